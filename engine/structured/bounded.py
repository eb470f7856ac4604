"""Length-bounded JSON strings in a form xgrammar masks fast.

xgrammar turns a string schema with maxLength/minLength into `"\"" chars{lo, hi} "\""`. A mask inside
such a repetition is computed token by token at every step (5-20 ms a row over a 152k vocabulary, 35x
an unbounded string), so 256 rows cannot keep up with a GPU step. The same language as a chain of
rules, one per remaining length, each ending like xgrammar's own strings (a lookahead for what may
follow a JSON value), is precomputed per rule by the compiler: a few hundred microseconds a row.
The rewrite works on xgrammar's printed EBNF and leaves every other rule as it is.
"""

from __future__ import annotations

import re

MAX_UNROLLED = 64  # longer bounds keep the repetition: compile time grows with every chain rule
# what may follow a JSON string: xgrammar's own lookahead for strings (end of input also passes)
FOLLOW = r"(=([ \n\r\t]* [,}\]:]))"
_CHAR_RULE = re.compile(r"^(\w+) ::= \(\((\[[^\n]*\])\)\)$")
_BOUNDED = re.compile(r'^(\w+) ::= \(\("\\"" (\w+)\{(\d+), (-?\d+)\} "\\""\)\)$')
_PREFIX = "bounded_string"


def unroll_bounded_strings(ebnf: str, max_length: int = MAX_UNROLLED) -> str | None:
    """The grammar with each `"\"" C{lo, hi} "\""` rule (C a rule of one character class, lo and hi at
    most max_length) as lo inline copies of C, then the chain rule that may take hi - lo more (chains
    shared by every string of a class: the rest of a string depends on its class and room only). hi = -1
    (no maxLength) becomes lo copies of C then C*. None when no rule has that form."""
    lines = ebnf.splitlines()
    if any(_PREFIX in line for line in lines):
        return None  # our names are taken: leave the grammar alone
    classes = {m[1]: m[2] for line in lines if (m := _CHAR_RULE.match(line))}
    chains: dict[str, tuple[str, int]] = {}  # class -> (rule name prefix, longest room asked)
    out: list[str] = []
    for line in lines:
        m = _BOUNDED.match(line)
        if m is None or m[2] not in classes or not int(m[3]) <= max_length >= int(m[4]):
            out.append(line)
            continue
        name, cls, lo, hi = m[1], classes[m[2]], int(m[3]), int(m[4])
        if 0 <= hi < lo:
            out.append(line)
            continue
        body = ['"\\""', *[cls] * lo]
        if hi < 0:
            body += [f"{cls}*", '"\\""']
        else:
            base, room = chains.get(cls, (f"{_PREFIX}_{len(chains)}", 0))
            chains[cls] = (base, max(room, hi - lo))
            body.append(f"{base}_{hi - lo}")
        out.append(f"{name} ::= (({' '.join(body)}))")
    if out == lines:
        return None
    for cls, (base, room) in chains.items():
        out += _chain(base, cls, room)
    return "\n".join(out) + "\n"


def _chain(base: str, cls: str, room: int) -> list[str]:
    """base_k: the rest of a string, closing quote included, that may take k more characters."""
    rules = [f'{base}_0 ::= (("\\"")) {FOLLOW}']
    for k in range(1, room + 1):
        rules.append(f'{base}_{k} ::= (("\\"") | ({cls} {base}_{k - 1})) {FOLLOW}')
    return rules
