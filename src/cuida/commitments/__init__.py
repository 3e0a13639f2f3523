"""Commitments: promises made to a customer, tracked with owner and due date."""
