#!/usr/bin/env python
"""Speed of the curated triage rules: median microseconds per message for `find_hits` (+ urgency
reasons) over a few hundred varied messages (Spanish and English, ~60-300 characters).

    .venv/bin/python bench/triage_rules.py [--repeat 7] [--language all|es|en]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from cuida.triage.rules import find_hits, fold, urgency_reasons

OPENERS = [
    "",
    "Hola, ",
    "Buenas tardes. ",
    "@CuidaSoporte ",
    "Hi there, ",
    "URGENTE!!! ",
    "Ey 👋 ",
    "Estimados señores: ",
    "Hello team, ",
    "Otra vez yo... ",
]
BODIES = [
    "llevo 5 días sin fibra y nadie me dice nada. Si no lo arregláis mañana me paso a otra compañía",
    "no me quiero dar de baja, solo cambiar de tarifa. ¿Qué opciones tengo con más datos?",
    "¿a qué hora abrís mañana? quería pasar a recoger un pedido",
    "es la tercera vez que llamo y me cuelgan, sois unos inútiles, quiero hablar con el responsable",
    "me habéis cobrado dos veces la factura de marzo y tengo la cuenta en números rojos",
    "mi madre de 85 años lleva 3 días sin luz y usa oxígeno en casa, por favor",
    "huele a gas en el portal desde que vino vuestro técnico, venid ya",
    "joder, otra vez sin internet, esta app es una mierda",
    "por fin me llegó el pedido, muchas gracias!! 😍 todo perfecto",
    "os voy a denunciar a la OCU y pondré una hoja de reclamaciones en la tienda",
    "lo subo a TikTok y que se entere todo el mundo de cómo tratáis a los clientes #boicot",
    "quiero que me devuelvan el dinero del vuelo cancelado, mi boda es el sábado",
    "pásame con alguien que sepa, que esto ya no hay quien lo aguante",
    "ya presenté mi queja ante PROFECO y nadie me contesta, pinches rateros",
    "cancelo mi plan hoy mismo, me cambio a Claro que al menos funciona",
    "necesito cita para que venga el técnico, el router echa humo",
    "qué bonito día para ir a la playa con los amigos, nos vemos allí",
    "el director de la peli estuvo genial, recomiendo verla en el cine",
    "mi abogado me recomendó vuestro seguro de hogar, ¿cuánto cuesta?",
    "lo publiqué en Insta, me encanta cómo quedó el vestido",
    "I've been without internet for 2 weeks and you keep telling me to restart the router",
    "I'm not cancelling, just asking about the upgrade. What does it cost per month?",
    "you charged me twice and my account is frozen, I need my money back now",
    "third time I've called about this, put me through to a manager",
    "if this isn't fixed by Friday I'm switching to Verizon and porting my number",
    "I'll be going to the press and posting this everywhere, you clowns",
    "my lawyer friend recommended you guys, love the service so far",
    "wtf is this, smoke coming out of the charger you sold me, could have burnt the house down",
    "my flight is tomorrow and the booking still shows unconfirmed, can you help?",
    "great match last night, what a goal in the 90th minute!",
    "Small claims court is next if I don't get a refund. Trading Standards already know.",
    "I'll smash your shop window if you cancel my order one more time",
    "me robaron el celular ayer, ¿cómo bloqueo la línea? ya puse la denuncia en la policía",
    "vaya panda de ladrones, 3 semanas esperando el reembolso y ni una respuesta",
    "Che, la app no anda desde el lunes, ¿tienen idea de cuándo vuelve?",
    "órale, ya llegó mi paquete, muy rápido todo 👍",
]
CLOSERS = [
    "",
    " Gracias.",
    " Saludos",
    " 😡😡",
    " Thanks",
    " https://example.com/ticket/123",
    " #fail",
    "!!!",
]


def corpus(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        body = rng.choice(BODIES)
        if rng.random() < 0.3:
            body = body + ". " + rng.choice(BODIES)
        text = rng.choice(OPENERS) + body + rng.choice(CLOSERS)
        if rng.random() < 0.15:
            text = text.upper()
        if rng.random() < 0.15:
            text = text.translate(str.maketrans("áéíóúÁÉÍÓÚ", "aeiouAEIOU"))
        out.append(text)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--language", default="all", choices=["all", "es", "en"])
    args = parser.parse_args()
    language = None if args.language == "all" else args.language

    messages = corpus(args.messages)
    find_hits("calentamiento", language)  # compile outside the timing
    per_message: list[float] = []
    fold_only: list[float] = []
    for _ in range(args.repeat):
        for text in messages:
            t0 = time.perf_counter()
            fold(text)
            t1 = time.perf_counter()
            hits = find_hits(text, language)
            urgency_reasons(text, hits)
            t2 = time.perf_counter()
            fold_only.append((t1 - t0) * 1e6)
            per_message.append((t2 - t1) * 1e6)
    chars = statistics.mean(len(t) for t in messages)
    per_200 = [us * 200 / max(len(t), 1) for us, t in zip(per_message, messages * args.repeat, strict=True)]
    print(
        f"messages: {len(messages)} x {args.repeat}, mean length {chars:.0f} chars, language={args.language}"
    )
    print(f"find_hits + urgency_reasons: median {statistics.median(per_message):.1f} µs/message")
    print(f"  p90 {statistics.quantiles(per_message, n=10)[-1]:.1f} µs, max {max(per_message):.1f} µs")
    print(f"  normalised to 200 chars: median {statistics.median(per_200):.1f} µs")
    print(f"  of which folding: median {statistics.median(fold_only):.1f} µs")


if __name__ == "__main__":
    main()
