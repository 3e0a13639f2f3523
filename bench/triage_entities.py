#!/usr/bin/env python
"""Entity extractor speed: median microseconds per message over a few hundred varied messages
(Spanish, Latin American Spanish and English; some with no entity at all), built from templates
with a fixed seed so runs are comparable.

    .venv/bin/python bench/triage_entities.py --messages 400 --repeat 20
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from cuida.triage.entities import extract_entities

TEMPLATES = [
    "Hola, mi pedido {order} no ha llegado todavía y ya han pasado {n} días. ¿Podéis revisarlo? Gracias.",
    "Buenas tardes, me llamo {first} {last} y os escribo porque me cobrasteis {eur} € dos veces en la "
    "factura {inv}.",
    "Quiero cambiar la reserva con localizador {pnr} del vuelo {flight} del {day}/03/2026, no puedo viajar.",
    "La incidencia {inc} sigue abierta desde el {day} de marzo. Llamadme al 6{d8} por favor, es urgente.",
    "I ordered the set {sku} two weeks ago (order #{order}) and it arrived broken. I want a refund of ${usd}.",
    "Me atendió {first} por teléfono y fue muy amable, gracias por la ayuda de ayer.",
    "Mi celular es 55 {d4} {d4}, necesito que me llamen mañana por la mañana por el cobro de {n}00 pesos.",
    "El técnico {first} vino el lunes pero no arregló nada. Escribidme a {mail}@gmail.com.",
    "Estoy harto, llevo una semana sin internet y nadie me da una solución. Pienso darme de baja.",
    "My name is {first} {last}, booking ref {pnr}, flight BA {n}{n}90 next Friday. Can I add a bag?",
    "Muy contentos con el servicio, todo perfecto, volveremos a comprar seguro.",
    "¿Tenéis el modelo SM-A{n}46B en stock? Lo vi en https://www.tienda.es/movil/{n} por {eur} euros.",
    "Pagué S/ {n}50 y no me llegó la confirmación. Mi número de caso es {order}.",
    "No funciona la app desde hoy, me da error al entrar. Atención 24h dice la web pero no contesta nadie.",
    "Hablé con el Sr. {last} y me dijo que el reembolso de {eur} EUR llegaría el {day} de abril de 2026.",
]
FIRST = ["Ana", "Daniel", "Laura", "Pedro", "Lucía", "John", "Mary", "Carmen", "Jorge", "Sofía"]
LAST = ["García", "Martínez", "López", "Smith", "Pérez", "Fernández", "Jones", "Rodríguez"]


def _message(rng: random.Random) -> str:
    template = rng.choice(TEMPLATES)
    return template.format(
        order=f"{rng.randint(1000, 9999)}-{rng.choice('ABCXYZ')}{rng.choice('KLMZ')}",
        n=rng.randint(1, 9),
        first=rng.choice(FIRST),
        last=rng.choice(LAST),
        eur=f"{rng.randint(5, 999)},{rng.randint(0, 99):02d}",
        usd=f"{rng.randint(5, 999)}.{rng.randint(0, 99):02d}",
        inv=f"FAC-2026-{rng.randint(1, 9999):04d}",
        pnr="".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6)),
        flight=f"{rng.choice(['IB', 'UX', 'VY', 'FR'])}{rng.randint(100, 9999)}",
        day=rng.randint(1, 28),
        inc=f"INC-{rng.randint(10000, 99999)}",
        d8=f"{rng.randint(10_000_000, 99_999_999)}",
        d4=f"{rng.randint(1000, 9999)}",
        sku=rng.randint(10000, 99999),
        mail=rng.choice(FIRST).lower() + str(rng.randint(1, 99)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(20260312)
    messages = [_message(rng) for _ in range(args.messages)]
    for m in messages:  # warm-up: compiled patterns, phone-number cache
        extract_entities(m)
    per_message: list[float] = []
    for _ in range(args.repeat):
        for m in messages:
            t0 = time.perf_counter_ns()
            extract_entities(m)
            per_message.append((time.perf_counter_ns() - t0) / 1000)
    per_message.sort()
    mean_len = statistics.fmean(len(m) for m in messages)
    p95 = per_message[int(len(per_message) * 0.95)]
    print(
        f"{len(messages)} messages (mean {mean_len:.0f} chars) x {args.repeat}: "
        f"median {statistics.median(per_message):.1f} µs/message, p95 {p95:.1f} µs"
    )


if __name__ == "__main__":
    main()
