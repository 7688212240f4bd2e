"""MyST Markdown to the plain Markdown that Jupyter and Colab render.

The book's chapters are written in MyST: roles (``{glue:text}`key```, ``{cite:t}`key```,
``{prf:ref}`label```...) and fenced directives (``{prf:theorem}``, ``{glue:figure}``,
admonitions, exercises...). Outside the book Jupyter and Colab show them as literal text,
so every notebook the book hands out goes through :func:`convert`:

- ``{glue:text}``, ``{glue:md}``, ``{glue}`` become the value the build executed (with the
  role's format spec applied exactly as myst-nb does);
- theorem, lemma, definition, ... boxes become a bold title with the body as a quote;
  proofs an italic *Proof.* with the body as a quote; admonitions a bold title and a
  quote; dropdowns an HTML ``<details>`` block (which both render);
- ``{glue:figure}`` becomes its caption ("**Figure N.** ..."): the figure itself is the
  output of the code cell that glued it (see ``editions.show_glued_outputs``);
- citations become author-year text, and the cited works are listed at the end
  (:meth:`Context.references_markdown`);
- ``{prf:ref}``, ``{numref}``, ``{ref}``, ``{eq}`` and ``{doc}`` become their text as the
  book shows it ("Theorem 3", "Figure 2", a section's title), linked to the online page
  when the book has a published address (``html.baseurl``);
- ``(label)=`` targets and ``%`` comments disappear, and the book's MathJax macros
  (``_config.yml``) are expanded in the math, since Jupyter does not know them.

A role or directive this module does not know raises :class:`UnknownMyST`: a notebook
with raw MyST in it is never written silently. :class:`Context` holds what the
conversion needs from the build (glued values, numbers, titles, the bibliography); the
Sphinx extension fills it from the build environment (``book_fixes.context_for``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class UnknownMyST(ValueError):
    """A role or directive that the conversion does not know (or cannot resolve)."""


@dataclass
class Ref:
    """What a cross-reference target shows, and where it lives."""

    text: str
    docname: str
    anchor: str = ""


@dataclass
class BibEntry:
    """One bibliography entry: names for the citation, and the full reference."""

    names: list[str]  # last names, in order
    year: str
    reference: str  # Markdown

    def short(self) -> str:
        if len(self.names) == 1:
            return self.names[0]
        if len(self.names) == 2:
            return f"{self.names[0]} and {self.names[1]}"
        return f"{self.names[0]} et al."


@dataclass
class Context:
    """What converting one page needs from the build."""

    docname: str = ""
    glue: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> mime bundle
    refs: dict[str, Ref] = field(default_factory=dict)  # label -> what {ref} shows
    numbered: dict[str, Ref] = field(default_factory=dict)  # label -> what {numref} shows
    equations: dict[str, str] = field(default_factory=dict)  # label -> number
    docs: dict[str, str] = field(default_factory=dict)  # docname -> title
    numbers: dict[str, list[str]] = field(default_factory=dict)  # counter -> numbers in order
    bib: dict[str, BibEntry] = field(default_factory=dict)
    baseurl: str = ""
    macros: dict[str, tuple[str, int]] = field(default_factory=dict)
    figure_format: str = "Fig. %s"
    cited: list[str] = field(default_factory=list)
    used: dict[str, int] = field(default_factory=dict)  # counter -> how many seen so far

    # ------------------------------------------------------------------ numbering
    def next_number(self, counter: str, label: str = "") -> str:
        """The number of the next box of ``counter`` (``label`` checked when given)."""
        position = self.used.get(counter, 0)
        self.used[counter] = position + 1
        ordered = self.numbers.get(counter, [])
        number = ordered[position] if position < len(ordered) else ""
        if label and label in self.numbered:
            shown = self.numbered[label].text.rsplit(" ", 1)[-1]
            if shown and shown[0].isdigit():
                number = shown
        return number

    # ------------------------------------------------------------------ links
    def link(self, text: str, docname: str, anchor: str = "") -> str:
        if not self.baseurl:
            return text
        url = f"{self.baseurl.rstrip('/')}/{docname}.html" + (f"#{anchor}" if anchor else "")
        return f"[{text}]({url})"

    def doc_name(self, target: str) -> str:
        """A ``{doc}`` target as a docname (relative to the current page, or absolute)."""
        target = target.removesuffix(".md").removesuffix(".ipynb")
        if target.startswith("/"):
            return target.lstrip("/")
        base = Path(self.docname).parent
        parts: list[str] = []
        for part in (base / target).as_posix().split("/"):
            if part == "..":
                if parts:
                    parts.pop()
            elif part not in (".", ""):
                parts.append(part)
        return "/".join(parts)

    # ------------------------------------------------------------------ citations
    def cite(self, role: str, keys: list[str]) -> str:
        entries = []
        for key in keys:
            if key not in self.bib:
                raise UnknownMyST(f"{self.docname}: citation key {key!r} not in the bibliography")
            if key not in self.cited:
                self.cited.append(key)
            entries.append(self.bib[key])
        if role in ("cite:t", "cite:ts"):
            return "; ".join(f"{e.short()} ({e.year})" for e in entries)
        if role in ("cite:p", "cite:ps", "cite"):
            return "(" + "; ".join(f"{e.short()}, {e.year}" for e in entries) + ")"
        if role == "cite:author":
            return "; ".join(e.short() for e in entries)
        if role == "cite:year":
            return "; ".join(e.year for e in entries)
        raise UnknownMyST(f"{self.docname}: unknown citation role {{{role}}}")

    def references_markdown(self) -> str:
        """The works cited so far, as a Markdown section (empty if none)."""
        if not self.cited:
            return ""
        rows = sorted(self.bib[k].reference for k in self.cited)
        return "## References\n\n" + "\n".join(f"- {row}" for row in rows)


# ------------------------------------------------------------------------ glue values
def glue_value(ctx: Context, key: str, kind: str) -> str:
    """The value glued under ``key`` as the role or directive ``kind`` shows it."""
    from myst_nb.core.variables import format_plain_text

    name, fmt = key, ""
    if kind in ("glue:text", "glue:md") and ":" in key:
        name, fmt = key.rsplit(":", 1)
    if "::" in name:
        raise UnknownMyST(f"{ctx.docname}: glue from another page ({key!r}) is not supported")
    bundle = ctx.glue.get(name)
    if bundle is None:
        raise UnknownMyST(f"{ctx.docname}: no value glued under {name!r}")
    if kind == "glue:md":
        if "text/markdown" not in bundle:
            raise UnknownMyST(f"{ctx.docname}: {name!r} has no text/markdown value")
        return str(bundle["text/markdown"]).strip()
    if kind == "glue:math":
        latex = str(bundle.get("text/latex", bundle.get("text/plain", ""))).strip()
        return latex.strip("$")
    if "text/plain" not in bundle:
        raise UnknownMyST(f"{ctx.docname}: {name!r} has no text value to show")
    return format_plain_text(str(bundle["text/plain"]), fmt or "s")


# ------------------------------------------------------------------------ roles
_ROLE_OR_CODE = re.compile(
    r"\{(?P<name>[A-Za-z][\w:.+-]*)\}`(?P<body>[^`]+)`|(?P<code>(?P<ticks>`+).+?(?P=ticks))",
    re.S,
)
_EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
_XREF_ROLES = ("prf:ref", "numref", "ref", "doc", "eq", "any", "term", "download")


def _xref(ctx: Context, role: str, body: str) -> str:
    match = _EXPLICIT.match(body)
    text, target = (match["text"], match["target"]) if match else ("", body.strip())
    if role == "doc":
        docname = ctx.doc_name(target)
        if docname not in ctx.docs:
            raise UnknownMyST(f"{ctx.docname}: {{doc}} target {target!r} is no page of the book")
        if not text and not ctx.baseurl:
            # A page's title in running text, without the HTML's link to set it off, read
            # as a broken sentence ("that The prompt as an index counts"): italicised.
            return f"*{ctx.docs[docname]}*"
        return ctx.link(text or ctx.docs[docname], docname)
    if role == "download":
        return text or Path(target).name
    if role == "eq":
        if target not in ctx.equations:
            raise UnknownMyST(f"{ctx.docname}: no equation labelled {target!r}")
        return text or f"({ctx.equations[target]})"
    if role == "term":
        return text or target
    ref = (ctx.numbered if role in ("numref", "prf:ref") else ctx.refs).get(target)
    if ref is None and role == "ref":
        ref = ctx.numbered.get(target)
    if ref is None:
        raise UnknownMyST(f"{ctx.docname}: {{{role}}} target {target!r} not found")
    if text and role == "numref":
        number = ref.text.rsplit(" ", 1)[-1]
        text = text.replace("{number}", number).replace("%s", number)
    return ctx.link(text or ref.text, ref.docname, ref.anchor)


def _role(ctx: Context, name: str, body: str) -> str:
    if name in ("glue", "glue:text", "glue:md", "glue:any"):
        return glue_value(ctx, body.strip(), name if name != "glue:any" else "glue")
    if name.startswith("cite"):
        keys = [k.strip() for k in body.split(",") if k.strip()]
        return ctx.cite(name, keys)
    if name in _XREF_ROLES:
        return _xref(ctx, name, body)
    if name == "math":
        return f"${body}$"
    if name in ("sup", "sub"):
        return f"<{name}>{body}</{name}>"
    if name == "abbr":
        match = re.match(r"^(.*?)\s*\((.*)\)$", body)
        return match[1] if match else body
    if name in ("kbd", "code", "literal", "samp", "file", "command", "program"):
        return f"`{body}`"
    if name in ("emphasis", "dfn"):
        return f"*{body}*"
    if name == "strong":
        return f"**{body}**"
    if name in ("index",):
        return ""
    raise UnknownMyST(f"{ctx.docname}: unknown role {{{name}}} in {{{name}}}`{body}`")


def convert_inline(text: str, ctx: Context) -> str:
    """Replace every role in ``text`` (inline code spans left alone)."""

    def replace(match: re.Match) -> str:
        if match["code"] is not None:
            return match["code"]
        return _role(ctx, match["name"], match["body"])

    return _ROLE_OR_CODE.sub(replace, text)


# ------------------------------------------------------------------------ math
def expand_macros(text: str, macros: dict[str, tuple[str, int]]) -> str:
    """Expand the book's MathJax macros (``\\name`` and ``\\name{arg}...``) in ``text``."""
    if not macros:
        return text
    names = sorted(macros, key=len, reverse=True)
    pattern = re.compile(r"\\(" + "|".join(map(re.escape, names)) + r")(?![A-Za-z])")
    for _ in range(10):  # macros may use macros
        out: list[str] = []
        pos = 0
        changed = False
        for match in pattern.finditer(text):
            if match.start() < pos:
                continue
            body, nargs = macros[match[1]]
            end = match.end()
            args = []
            for _arg in range(nargs):
                while end < len(text) and text[end] == " ":
                    end += 1
                if end < len(text) and text[end] == "{":
                    depth, start = 0, end
                    while end < len(text):
                        depth += {"{": 1, "}": -1}.get(text[end], 0)
                        end += 1
                        if depth == 0:
                            break
                    args.append(text[start + 1 : end - 1])
                elif end < len(text):
                    args.append(text[end])
                    end += 1
            expanded = body
            for number, arg in enumerate(args, start=1):
                expanded = expanded.replace(f"#{number}", arg)
            out.append(text[pos : match.start()])
            out.append("{" + expanded + "}" if nargs else expanded + " ")
            pos = end
            changed = True
        out.append(text[pos:])
        text = "".join(out)
        if not changed:
            break
    return text


_LABELLED_MATH = re.compile(r"\$\$(?P<body>.+?)\$\$[ \t]*\((?P<label>[\w:.-]+)\)", re.S)


# ------------------------------------------------------------------------ directives
_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>.*)$")
_DIRECTIVE_INFO = re.compile(r"^\{(?P<name>[\w:.+-]+)\}\s*(?P<arg>.*)$")
_TARGET = re.compile(r"^\s*\([\w:.-]+\)=\s*$")
_COMMENT = re.compile(r"^\s*%")

# sphinx-proof's directives (each its own counter unless the book's config says otherwise)
PROOF_KINDS = {
    "axiom",
    "theorem",
    "lemma",
    "definition",
    "remark",
    "conjecture",
    "corollary",
    "algorithm",
    "criterion",
    "example",
    "property",
    "observation",
    "proposition",
    "assumption",
    "notation",
}
ADMONITIONS = {
    "admonition",
    "note",
    "warning",
    "tip",
    "important",
    "hint",
    "caution",
    "attention",
    "danger",
    "error",
    "seealso",
    "margin",
    "sidebar",
    "topic",
    "epigraph",
    "dropdown",
}
DIRECTIVES = (
    {f"prf:{k}" for k in PROOF_KINDS}
    | ADMONITIONS
    | {
        "prf:proof",
        "exercise",
        "solution",
        "solution-start",
        "solution-end",
        "glue:figure",
        "glue:math",
        "glue:md",
        "glue",
        "glue:any",
        "figure",
        "image",
        "math",
        "code",
        "code-block",
        "bibliography",
        "raw",
        "div",
        "container",
        "index",
    }
)
"""Every directive :func:`convert` knows."""


@dataclass
class Directive:
    name: str
    argument: str
    options: dict[str, str]
    body: str
    source: str = ""  # the block as written


def _options(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split a directive's leading ``:key: value`` lines (or YAML block) from its body."""
    options: dict[str, str] = {}
    if lines and lines[0].strip() == "---":
        end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
        if end is not None:
            for line in lines[1:end]:
                key, _, value = line.partition(":")
                options[key.strip()] = value.strip()
            return options, lines[end + 1 :]
    while lines and re.match(r"^:[\w-]+:", lines[0]):
        _, key, value = lines.pop(0).split(":", 2)
        options[key.strip()] = value.strip()
    return options, lines


def split_blocks(text: str) -> list[str | Directive]:
    """Top-level Markdown runs (str) and fenced directives (:class:`Directive`).

    Plain code fences stay in the Markdown runs untouched (nothing inside is converted).
    """
    lines = text.split("\n")
    out: list[str | Directive] = []
    plain: list[str] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            plain.append(lines[i])
            i += 1
            continue
        fence = match["fence"]
        closing = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
        end = i + 1
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        directive = _DIRECTIVE_INFO.match(match["info"].strip())
        if directive is None:  # a code block: keep verbatim
            plain.extend(lines[i : end + 1])
            i = end + 1
            continue
        options, body = _options(lines[i + 1 : end])
        if plain:
            out.append("\n".join(plain))
            plain = []
        source = "\n".join(lines[i : end + 1])
        args = (directive["name"], directive["arg"].strip(), options, "\n".join(body), source)
        out.append(Directive(*args))
        i = end + 1
    if plain:
        out.append("\n".join(plain))
    return out


def _quote(markdown: str) -> str:
    return "\n".join(f"> {line}".rstrip() for line in markdown.strip("\n").split("\n"))


def _title(ctx: Context, text: str) -> str:
    return expand_macros(convert_inline(text, ctx), ctx.macros).strip()


def _directive(ctx: Context, block: Directive, *, solutions: bool) -> str:
    name = block.name
    if name not in DIRECTIVES:
        raise UnknownMyST(f"{ctx.docname}: unknown directive {{{name}}} {block.argument!r}")
    body = lambda: convert(block.body, ctx, solutions=solutions)  # noqa: E731
    label = block.options.get("label", block.options.get("name", ""))
    if name.startswith("prf:") and name != "prf:proof":
        kind = name.split(":", 1)[1]
        number = "" if "nonumber" in block.options else ctx.next_number(kind, label)
        head = f"{kind.title()} {number}".strip()
        if block.argument:
            head += f" ({_title(ctx, block.argument)})"
        return f"**{head}.**\n\n{_quote(body())}"
    if name == "prf:proof":
        return f"*Proof.*\n\n{_quote(body())}"
    if name == "exercise":
        # The book's own number (sphinx-exercise numbers exercises across the whole book),
        # so that "Exercise 11" in the notebook is the HTML's and the PDF's Exercise 11.
        number = "" if "nonumber" in block.options else ctx.next_number("exercise", label)
        head = f"**Exercise {number}**" if number else "**Exercise**"
        head += f" ({_title(ctx, block.argument)})." if block.argument else "."
        if label:  # the exercise's one name, as the page shows it beside the title
            head += f" `{label}`"
        return f"---\n\n{head}\n\n{body().strip()}"
    if name == "solution":
        if not solutions:
            return ""
        return _details("Solution", body())
    if name in ("solution-start", "solution-end"):
        if not solutions:
            raise UnknownMyST(f"{ctx.docname}: gated solutions must be removed before converting")
        # A gated solution spans several cells, which one <details> block cannot.
        return "**Solution.**" if name == "solution-start" else "*(End of the solution.)*"
    if name in ADMONITIONS:
        title = _title(ctx, block.argument) if block.argument else name.title()
        if name == "dropdown" or "dropdown" in block.options.get("class", "").split():
            return _details(title, body())
        if name in ("margin", "sidebar", "epigraph", "topic") and not block.argument:
            return _quote(body())
        return f"**{title}.**\n\n{_quote(body())}"
    if name == "glue:figure":
        number = ctx.next_number("figure", label)
        caption = body().strip()
        if block.argument not in ctx.glue:
            raise UnknownMyST(f"{ctx.docname}: no figure glued under {block.argument!r}")
        head = f"**{ctx.figure_format % number}.**" if number else ""
        text = caption or "(figure above)"
        return f"*{head} {text}*" if "\n" not in text else f"{head} {text}".strip()
    if name in ("glue", "glue:any", "glue:md"):
        return glue_value(ctx, block.argument, name)
    if name == "glue:math":
        return f"$$\n{glue_value(ctx, block.argument, name)}\n$$"
    if name in ("figure", "image"):
        number = ctx.next_number("figure", label) if name == "figure" else ""
        caption = body().strip()
        alt = block.options.get("alt", caption.split("\n")[0] if caption else "")
        image = f"![{alt}]({block.argument})"
        if name == "image":
            return image
        head = f"**{ctx.figure_format % number}.** " if number else ""
        return f"{image}\n\n{head}{caption}".rstrip()
    if name == "math":
        math = block.body.strip()
        if label in ctx.equations:
            math += f" \\tag{{{ctx.equations[label]}}}"
        return f"$$\n{expand_macros(math, ctx.macros)}\n$$"
    if name in ("code", "code-block"):
        return f"```{block.argument}\n{block.body}\n```"
    if name == "bibliography":
        return ctx.references_markdown()
    if name == "raw":
        if block.argument.strip() != "html":
            return ""
        return block.body
    if name in ("div", "container"):
        return body()
    if name == "index":
        return ""
    raise UnknownMyST(f"{ctx.docname}: directive {{{name}}} has no conversion")  # pragma: no cover


def _details(summary: str, markdown: str) -> str:
    return f"<details><summary>{summary}</summary>\n\n{markdown.strip()}\n\n</details>"


def _plain(text: str, ctx: Context) -> str:
    kept = [line for line in text.split("\n") if not (_TARGET.match(line) or _COMMENT.match(line))]
    text = "\n".join(kept)

    def labelled(match: re.Match) -> str:
        number = ctx.equations.get(match["label"])
        if number is None:
            raise UnknownMyST(f"{ctx.docname}: no equation labelled {match['label']!r}")
        return f"$${match['body'].rstrip()} \\tag{{{number}}}\n$$"

    text = _LABELLED_MATH.sub(labelled, text)
    text = convert_inline(text, ctx)
    return expand_macros(text, ctx.macros)


def convert(text: str, ctx: Context, *, solutions: bool = True) -> str:
    """``text`` (MyST Markdown) as plain Markdown (see the module docstring)."""
    parts = []
    for block in split_blocks(text):
        if isinstance(block, Directive):
            parts.append(_directive(ctx, block, solutions=solutions))
        else:
            parts.append(_plain(block, ctx))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(parts)).strip("\n")


# ------------------------------------------------------------------------ checking
_ANY_DIRECTIVE = re.compile(r"^ {0,3}(`{3,}|~{3,}|:{3,})\s*\{[\w:.+-]+\}", re.M)


def leftover_myst(text: str) -> list[str]:
    """Every MyST role or directive opening (or target) left in Markdown ``text``."""
    found = [
        m.group(0) for m in _ROLE_OR_CODE.finditer(_without_fences(text)) if m["name"] is not None
    ]
    found += [m.group(0) for m in _ANY_DIRECTIVE.finditer(text)]
    found += [line for line in text.split("\n") if _TARGET.match(line)]
    return found


def _without_fences(text: str) -> str:
    """``text`` without fenced code blocks (which a directive opening is not)."""
    return re.sub(r"^ {0,3}(`{3,})(?!\s*\{)[^\n]*\n.*?^ {0,3}\1\s*$", "", text, flags=re.M | re.S)


# ------------------------------------------------------------------------ bibliography
def _latex_text(text: str) -> str:
    text = text.replace("\\&", "&").replace("--", "–").replace("~", " ")
    text = re.sub(r"\\[a-zA-Z]+\s*", "", text)
    return text.replace("{", "").replace("}", "")


def read_bibliography(path: Path) -> dict[str, BibEntry]:
    """``references.bib`` as :class:`BibEntry` values (author-year)."""
    from pybtex.database import parse_file

    data = parse_file(str(path))
    entries = {}
    for key, entry in data.entries.items():
        people = entry.persons.get("author") or entry.persons.get("editor") or []
        names = [_latex_text(" ".join(p.last_names)) for p in people]
        authors = ", ".join(
            _latex_text(" ".join(p.last_names) + ", " + " ".join(p.first_names + p.middle_names))
            for p in people
        )
        fields = entry.fields
        year = fields.get("year", "n.d.")
        venue = fields.get("booktitle") or fields.get("journal") or fields.get("publisher", "")
        parts = [f"{authors} ({year}).", f"*{_latex_text(fields.get('title', key))}*."]
        if venue:
            parts.append(f"{_latex_text(venue)}.")
        if fields.get("note"):
            parts.append(f"{_latex_text(fields['note'])}.")
        if fields.get("url"):
            parts.append(f"<{fields['url']}>")
        elif fields.get("doi"):
            parts.append(f"<https://doi.org/{fields['doi']}>")
        entries[key] = BibEntry(names or [key], year, " ".join(parts))
    return entries


def mathjax_macros(config: dict) -> dict[str, tuple[str, int]]:
    """The ``tex.macros`` of ``mathjax3_config`` as ``name: (body, number of arguments)``."""
    macros = config.get("tex", {}).get("macros", {}) if config else {}
    out = {}
    for name, value in macros.items():
        if isinstance(value, list):
            out[name] = (str(value[0]), int(value[1]))
        else:
            out[name] = (str(value), 0)
    return out
