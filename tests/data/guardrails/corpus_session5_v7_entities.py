# ruff: noqa: E501 (corpus texts are kept whole, one per line)
"""Corpus items of session 5 (issue #15, entities): written per detection class after reading the
misses and false alarms of heldout_v7, with our own values (random, fixed here) and wording.
Imported by make_corpus.py.

Classes: phones in WhatsApp links (wa.me/<international digits>) and UK mobiles grouped 5+6;
SSN-valid dashed numbers after lot, batch, serial or part labels or a letter code are none.
E-mail: `name@domain.tld`-style formats are none. Generic secrets: Python bytes literals
(`secret_key = b'…'`), Kubernetes env entries (name, then value), Terraform variables with a
default, Wi-Fi QR payloads (`WIFI:…;P:…;;`), Turkish "şifre olarak …". Invisible: one byte-order
mark starting a pasted file is none (a BOM elsewhere, or a run, still is).
"""

from __future__ import annotations

# (note, expected groups, texts)
GROUPS: list[tuple[str, list[str], list[str]]] = [
    (
        "session 5 v7: phone numbers in WhatsApp links",
        ["phone"],
        [
            "Questions about your order? https://wa.me/4915123456789 (we answer within the hour)",
            "Escríbenos por WhatsApp: wa.me/34612345678",
            "<a href=\"https://wa.me/447700900123?text=Hello\">Message us</a>",
            "Support chat: https://api.whatsapp.com/send?phone=5511987654321&text=Oi",
        ],
    ),
    (
        "session 5 v7: short phone= URL parameters (no finding)",
        [],
        ["https://shop.example/track?order=7781&phone=0&lot=12", "GET /lookup?phone=12345&format=json"],
    ),
    (
        "session 5 v7: UK mobiles written 5+6",
        ["phone"],
        [
            "Cheers,\nPriya Natarajan\nM: 07823 514906",
            "You can text me on 07488 203517 after six.",
            "Site contact (mobile) 07356 981240 — ask for Gareth.",
        ],
    ),
    (
        "session 5 v7: lot, batch and serial numbers shaped like an SSN (no finding)",
        [],
        [
            "Batch 412-67-2290 failed the humidity test; quarantine the pallets.",
            "Lot no. 538-14-6021 expires in March.",
            "S/N: 604-22-1875 (see sticker under the base)",
            "Part number KTR-318-44-9057 is back in stock.",
            "Serial XQ-227-39-4410 registered to the Leeds office.",
        ],
    ),
    (
        "session 5 v7: SSNs still found next to such words",
        ["ssn"],
        [
            "Employee SSN 318-44-9057, batch payroll run on Friday.",
            "her social is 227-39-4410 and the lot of paperwork is done",
        ],
    ),
    (
        "session 5 v7: e-mail format descriptions (no finding)",
        [],
        [
            "Usernames look like name@domain.tld; anything else is refused.",
            "Le champ attend une adresse du type prenom@domaine.tld.",
        ],
    ),
    (
        "session 5 v7: secrets as Python bytes literals",
        ["generic_secret"],
        [
            "app.config['SECRET_KEY'] = b'Vogelbeere_1987!'",
            "SECRET_KEY = b\"q8Rk2mWv0LzTn4Yx\"\nDEBUG = False",
        ],
    ),
    (
        "session 5 v7: Kubernetes env entries and Terraform variable defaults",
        ["generic_secret"],
        [
            "containers:\n  - name: api\n    env:\n      - name: DB_PASSWORD\n        value: \"tundra-lantern-52\"",
            "env:\n- name: REDIS_AUTH_TOKEN\n  value: 'x7Gm2QpL9vRt4Ks8Wn'\n",
            "variable \"db_master_password\" {\n  type    = string\n  default = \"Morelia!2291\"\n}",
            "variable \"api_token\" {\n  default = \"b3f9c27e81d4a6f05c2e9d71a8b4f630\"\n}",
        ],
    ),
    (
        "session 5 v7: Kubernetes env and Terraform variables that are no secret (no finding)",
        [],
        [
            "env:\n  - name: LOG_LEVEL\n    value: \"debug-verbose\"",
            "variable \"region\" {\n  default = \"eu-central-1\"\n}",
            "env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-creds",
        ],
    ),
    (
        "session 5 v7: Wi-Fi QR payloads",
        ["generic_secret"],
        [
            "Print this as a QR code for the lobby: WIFI:S:Harbour-Lounge;T:WPA;P:Ankerplatz#2024;;",
            "WIFI:T:WPA2;S:office-5g;P:mQ7vZ2kLp9Rx;H:false;;",
        ],
    ),
    (
        "session 5 v7: Turkish 'şifre olarak …'",
        ["generic_secret"],
        [
            "Giriş ekranında şifre olarak Lale-7741 kullan.",
            "Veritabanı için şifre olarak 7c41e09ab2d35f86 girilmeli.",
        ],
    ),
    (
        "session 5 v7: a byte-order mark starting a pasted file (no finding)",
        [],
        [
            "\ufeffsku,qty\nA-100,4\n",
            "\ufeff# Notes\nRemember to water the plants.",
        ],
    ),
    (
        "session 5 v7: a byte-order mark inside text or a run of invisibles at the start",
        ["invisible"],
        [
            "\ufeff\u200bIgnore the formatting.",
            "first line\n\ufeffsecond line",
        ],
    ),
]
