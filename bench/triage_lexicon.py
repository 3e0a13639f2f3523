#!/usr/bin/env python
"""Lexicon features benchmark: median microseconds per message for `features()`, and a sanity figure
for the lexicons themselves: a zero-training classifier (sign of the net lexicon score, with a neutral
band) on 150 short messages written for this file by the Cuida team (not a public data set).

    .venv/bin/python bench/triage_lexicon.py [--rounds 7]

The accuracy is a smoke test of the lexicons, not a model score: the shipped classifier learns from
these features together with word and character n-grams.
"""

from __future__ import annotations

import argparse
import statistics
import time

from cuida.triage import lexicon

# (text, language, label) -- label: negative / neutral / positive
LABELED: list[tuple[str, str, str]] = [
    # --- Spanish, negative
    ("Llevo tres días sin internet y nadie me da una solución", "es", "negative"),
    ("El pedido llegó roto y encima me cobraron el envío dos veces", "es", "negative"),
    ("Pésimo servicio, no vuelvo a comprar aquí", "es", "negative"),
    ("Qué vergüenza de atención al cliente, os llamo cinco veces y me colgáis", "es", "negative"),
    ("La app no funciona desde ayer 😡", "es", "negative"),
    ("Esto es una tomadura de pelo, quiero mi dinero ya", "es", "negative"),
    ("No me gusta nada cómo me han tratado en la tienda", "es", "negative"),
    ("Sigo esperando el reembolso, ya van tres semanas", "es", "negative"),
    ("Qué asco de compañía, me tienen harta", "es", "negative"),
    ("La neta el servicio está bien chafa, nunca contestan", "es", "negative"),
    ("Una estafa total, el producto no sirve para nada", "es", "negative"),
    ("Muy decepcionado con la calidad, se rompió a la semana", "es", "negative"),
    ("Qué bajón, otra vez cancelaron mi vuelo sin avisar 😭", "es", "negative"),
    ("Fome la atención, respuestas automáticas y cero solución", "es", "negative"),
    ("El repartidor dejó el paquete mojado en la calle, lamentable", "es", "negative"),
    ("No me llegó el pedido y en la web pone entregado. Vaya tela", "es", "negative"),
    ("Ni caso a mis correos, esto es un cachondeo", "es", "negative"),
    ("Cutre, el hotel estaba sucio y el personal muy borde", "es", "negative"),
    ("Me arrepiento de haberme cambiado a esta compañía", "es", "negative"),
    ("El técnico no vino y perdí el día entero esperando", "es", "negative"),
    ("Me han cobrado de más en la factura y nadie me responde", "es", "negative"),
    ("Horrible experiencia, tardaron un mes en arreglar la caldera", "es", "negative"),
    ("La comida llegó fría y tarde, malísimo", "es", "negative"),
    ("Estoy hasta las narices de llamar, cada vez peor", "es", "negative"),
    ("No sirve, la batería dura dos horas. Un desastre", "es", "negative"),
    # --- Spanish, neutral
    ("¿A qué hora abrís mañana?", "es", "neutral"),
    ("Hola, quería saber si hacéis envíos a Canarias", "es", "neutral"),
    ("¿Cuál es el plazo para devolver un pantalón?", "es", "neutral"),
    ("Necesito cambiar la dirección de entrega del pedido 4521", "es", "neutral"),
    ("Buenas tardes, ¿el descuento se aplica también en tienda física?", "es", "neutral"),
    ("Quiero dar de alta una segunda línea", "es", "neutral"),
    ("¿Dónde puedo descargar la factura de marzo?", "es", "neutral"),
    ("Mi número de cliente es 88231, os escribo por lo de la tarifa", "es", "neutral"),
    ("¿Tienen la talla M en color azul?", "es", "neutral"),
    ("Pasaré por la oficina el lunes para firmar el contrato", "es", "neutral"),
    ("¿Se puede pagar con transferencia?", "es", "neutral"),
    ("Os adjunto la foto del ticket", "es", "neutral"),
    ("¿Cuánto tarda normalmente un envío a Bogotá?", "es", "neutral"),
    ("Quisiera información sobre el seguro de hogar", "es", "neutral"),
    ("¿El gimnasio abre los domingos?", "es", "neutral"),
    ("Me podrían indicar el horario de atención telefónica", "es", "neutral"),
    ("¿Cómo cambio la contraseña de la app?", "es", "neutral"),
    ("Consulta: ¿el vuelo incluye maleta de mano?", "es", "neutral"),
    ("Mañana llamo para confirmar la cita", "es", "neutral"),
    ("¿Hay alguna tienda en Valparaíso?", "es", "neutral"),
    ("Quiero saber el estado de mi solicitud", "es", "neutral"),
    ("Hola, ¿me pasan el enlace para el seguimiento?", "es", "neutral"),
    ("¿Qué documentos necesito para la portabilidad?", "es", "neutral"),
    ("El pedido es el 77812, a nombre de Lucía", "es", "neutral"),
    ("¿Aceptan mascotas en el hotel?", "es", "neutral"),
    # --- Spanish, positive
    ("Por fin me llegó, gracias!!", "es", "positive"),
    ("Me encanta la nueva app, súper fácil de usar 😍", "es", "positive"),
    ("Atención de diez, muy amables por teléfono", "es", "positive"),
    ("Qué chido quedó el mueble, gracias por todo", "es", "positive"),
    ("Bacán el servicio, llegó antes de lo previsto", "es", "positive"),
    ("Muchas gracias por la rapidez, todo perfecto", "es", "positive"),
    ("La camiseta es una pasada, calidad precio de lujo", "es", "positive"),
    ("Sois unos cracks, me habéis salvado el viaje", "es", "positive"),
    ("Está re lindo el vestido, lo recomiendo", "es", "positive"),
    ("Una chimba de atención, el técnico fue muy amable", "es", "positive"),
    ("Problema resuelto en cinco minutos, genial", "es", "positive"),
    ("Chévere todo, volveré a comprar", "es", "positive"),
    ("Buenísima la pizza y llegó calentita 👍", "es", "positive"),
    ("No está nada mal la tarifa nueva, estoy contento", "es", "positive"),
    ("Gracias Marta por la ayuda, un trato excelente", "es", "positive"),
    ("El hotel precioso y el personal encantador", "es", "positive"),
    ("Qué ilusión, ya tengo mis entradas para el concierto 🎉", "es", "positive"),
    ("Todo correcto con la devolución, muy agradecido", "es", "positive"),
    ("De puta madre el coche nuevo, va como un tiro", "es", "positive"),
    ("Mil gracias, sin problemas con el cambio de tarifa", "es", "positive"),
    ("Me gustó mucho la experiencia en la tienda", "es", "positive"),
    ("Excelente servicio, rápido y eficaz", "es", "positive"),
    ("Super recomendable, el envío fue rapidísimo", "es", "positive"),
    ("Joya el pedido, todo en orden ❤️", "es", "positive"),
    ("Ya funciona el wifi, muchas gracias por la paciencia", "es", "positive"),
    # --- English, negative
    ("Three days without internet and nobody answers", "en", "negative"),
    ("My order arrived broken and I was charged twice", "en", "negative"),
    ("Worst customer service ever, never again", "en", "negative"),
    ("The app doesn't work since the update 😡", "en", "negative"),
    ("This is a joke, I want my money back", "en", "negative"),
    ("Still waiting for my refund after three weeks", "en", "negative"),
    ("Absolutely terrible experience, the staff were rude", "en", "negative"),
    ("I don't like the new design at all", "en", "negative"),
    ("Ugh, cancelled my flight again without notice", "en", "negative"),
    ("The package never arrived and the tracking says delivered", "en", "negative"),
    ("So disappointed with the quality, it fell apart in a week", "en", "negative"),
    ("Been on hold for two hours, this sucks", "en", "negative"),
    ("Your website is useless, keeps crashing", "en", "negative"),
    ("Food came cold and late. Awful", "en", "negative"),
    ("Fed up with these constant outages", "en", "negative"),
    ("They hung up on me twice, unbelievable", "en", "negative"),
    ("Overpriced and slow, not worth it", "en", "negative"),
    ("The technician didn't show up and I lost a day of work", "en", "negative"),
    ("Hidden fees everywhere, total scam", "en", "negative"),
    ("smh, wrong item again 👎", "en", "negative"),
    ("I regret switching to your company", "en", "negative"),
    ("Nobody cares about customers here, pathetic", "en", "negative"),
    ("The hotel room was dirty and the wifi didn't work", "en", "negative"),
    ("Billing error again, this is ridiculous", "en", "negative"),
    ("Very frustrating, the charger stopped working after a day", "en", "negative"),
    # --- English, neutral
    ("What time do you open tomorrow?", "en", "neutral"),
    ("Do you ship to Canada?", "en", "neutral"),
    ("How do I reset my password?", "en", "neutral"),
    ("I need to change the delivery address for order 5512", "en", "neutral"),
    ("Is the discount valid in store as well?", "en", "neutral"),
    ("Can I pay by bank transfer?", "en", "neutral"),
    ("Where can I download my March invoice?", "en", "neutral"),
    ("Do you have this jacket in medium?", "en", "neutral"),
    ("I'll call tomorrow to confirm the appointment", "en", "neutral"),
    ("Does the fare include a carry-on bag?", "en", "neutral"),
    ("My account number is 44120", "en", "neutral"),
    ("Is the gym open on Sundays?", "en", "neutral"),
    ("Please send me the tracking link", "en", "neutral"),
    ("What documents do I need to port my number?", "en", "neutral"),
    ("I'd like information about home insurance", "en", "neutral"),
    ("Attached is a photo of the receipt", "en", "neutral"),
    ("Are pets allowed at the hotel?", "en", "neutral"),
    ("How long does shipping to Dublin usually take?", "en", "neutral"),
    ("I want to add a second line to my plan", "en", "neutral"),
    ("Can you tell me the opening hours of the Leeds store?", "en", "neutral"),
    ("The order is under the name Tom Baker", "en", "neutral"),
    ("Is there a student plan?", "en", "neutral"),
    ("Which payment methods do you accept?", "en", "neutral"),
    ("I'm moving next month, how do I transfer the service?", "en", "neutral"),
    ("Quick question about the warranty period", "en", "neutral"),
    # --- English, positive
    ("Finally arrived, thanks!!", "en", "positive"),
    ("Love the new app, super easy to use 😍", "en", "positive"),
    ("Great service, the agent was so helpful", "en", "positive"),
    ("Problem solved in five minutes, awesome", "en", "positive"),
    ("Thank you so much for the quick response", "en", "positive"),
    ("The dress is gorgeous, highly recommend", "en", "positive"),
    ("You guys rock, you saved my trip", "en", "positive"),
    ("Not bad at all, the new plan is cheaper", "en", "positive"),
    ("Delivery was fast and the pizza was delicious 👍", "en", "positive"),
    ("This place is fire 🔥 best burger in town", "en", "positive"),
    ("Really happy with the repair, works perfectly now", "en", "positive"),
    ("Kudos to Sarah at the front desk, lovely person", "en", "positive"),
    ("Excellent quality and great value for money", "en", "positive"),
    ("The refund came through, much appreciated", "en", "positive"),
    ("Amazing concert, thanks for the upgrade 🎉", "en", "positive"),
    ("All sorted, thanks for your patience", "en", "positive"),
    ("Wifi works again, you're the best", "en", "positive"),
    ("Pleasantly surprised by how friendly the staff were", "en", "positive"),
    ("Five stars, will definitely order again", "en", "positive"),
    ("The new car is perfect, I'm thrilled", "en", "positive"),
    ("Super helpful team, thanks a lot", "en", "positive"),
    ("Smooth check-in and a beautiful room ❤️", "en", "positive"),
    ("I really like the new menu", "en", "positive"),
    ("Good job on the update, much faster now", "en", "positive"),
    ("lol you guys are the best, thank you", "en", "positive"),
]

_PADDING = {
    "es": [
        " Os escribo desde el móvil, perdonad las faltas.",
        " Mi número de pedido es el 20391 por si lo necesitáis.",
        " Gracias de antemano.",
        " @soporte",
        " https://ejemplo.com/pedido/20391",
    ],
    "en": [
        " Writing from my phone, sorry for typos.",
        " Order number is 20391 in case you need it.",
        " Thanks in advance.",
        " @support",
        " https://example.com/order/20391",
    ],
}


def timing_messages() -> list[tuple[str, str]]:
    """A few hundred messages of varied length (about 20-300 characters): each labelled message on its
    own, with everyday filler, and run together with two more of its language (an email-sized message);
    a few shouted in capitals and sent as language "other" (both lexicons)."""
    out: list[tuple[str, str]] = []
    same = {lang: [t for t, lng, _ in LABELED if lng == lang] for lang in ("es", "en")}
    for k, (text, lang, _) in enumerate(LABELED):
        pool, pad = same[lang], _PADDING[lang]
        out.append((text, lang))
        out.append((text + pad[k % len(pad)], lang))
        out.append(
            (f"{text}. {pool[(k * 7 + 3) % len(pool)]}. {pool[(k * 11 + 5) % len(pool)]}" + pad[k % 3], lang)
        )
        if k % 5 == 0:
            out.append((text.upper() + "!!!", "other"))
    return out


def classify(text: str, language: str, band: float) -> str:
    toks = lexicon.tokens(text)
    score = sum(m.polarity for m in lexicon.sentiment_matches(toks, language))
    if score > band:
        return "positive"
    if score < -band:
        return "negative"
    return "neutral"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    t0 = time.perf_counter()
    lexicon.features("hola", "es")
    lexicon.features("hello", "en")
    lexicon.features("ok", "other")
    load_ms = (time.perf_counter() - t0) * 1000

    messages = timing_messages()
    for text, lang in messages:  # warm the canonical-token caches, as a long-running worker has them
        lexicon.features(text, lang)
    per_message: list[float] = []
    for _ in range(args.rounds):
        for text, lang in messages:
            t = time.perf_counter_ns()
            lexicon.features(text, lang)
            per_message.append((time.perf_counter_ns() - t) / 1000)
    lengths = sorted(len(text) for text, _ in messages)
    print(f"lexicons loaded in {load_ms:.0f} ms (es, en, both)")
    print(
        f"features(): {len(messages)} messages, median length {lengths[len(lengths) // 2]} chars: "
        f"median {statistics.median(per_message):.1f} µs, "
        f"p90 {statistics.quantiles(per_message, n=10)[-1]:.1f} µs per message"
    )
    long = [(t, lang) for t, lang in messages if 150 <= len(t) <= 250]
    print(
        f"  length buckets: <80 {sum(len(t) < 80 for t, _ in messages)}, 80-149 "
        f"{sum(80 <= len(t) < 150 for t, _ in messages)}, 150-250 {len(long)}, >250 "
        f"{sum(len(t) > 250 for t, _ in messages)}"
    )
    long_times: list[float] = []
    for _ in range(args.rounds):
        for text, lang in long:
            t = time.perf_counter_ns()
            lexicon.features(text, lang)
            long_times.append((time.perf_counter_ns() - t) / 1000)
    print(f"features(): {len(long)} messages of 150-250 chars: median {statistics.median(long_times):.1f} µs")

    print(f"\nlexicon-only classifier on {len(LABELED)} self-written messages (no training):")
    for band in (0.5, 1.0, 1.5):
        correct = sum(classify(text, lang, band) == label for text, lang, label in LABELED)
        by_lang = {
            lang: sum(classify(t, lng, band) == lab for t, lng, lab in LABELED if lng == lang)
            / sum(1 for _, lng, _ in LABELED if lng == lang)
            for lang in ("es", "en")
        }
        print(
            f"  neutral band |score| <= {band}: accuracy {correct / len(LABELED):.3f} "
            f"(es {by_lang['es']:.3f}, en {by_lang['en']:.3f})"
        )
    band = 1.0
    misses = [(t, lab, classify(t, lng, band)) for t, lng, lab in LABELED if classify(t, lng, band) != lab]
    print(f"  misses at band {band}:")
    for text, label, got in misses:
        print(f"    {label:>8} -> {got:<8} {text}")


if __name__ == "__main__":
    main()
