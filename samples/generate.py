"""Write the generated evaluation sets (run: ``python samples/generate.py``).

Seeded and deterministic: the same seed writes the same bytes. It writes 320 documents
(invoices, receipts, purchase orders and statements, as ``.txt``, ``.md``, ``.html`` and
``.pdf``) into two halves:

* ``samples/generated/tuning/`` uses the *tuning* label wordings of
  ``samples/generated/vocabulary.json`` and the tuning layouts;
* ``samples/generated/heldout/`` uses only the *held-out* wordings and layouts (dot leaders,
  two pairs per line, narrow till prints, Markdown bold lists, HTML ``<dl>`` and paragraphs,
  stacked and inline PDF lines). No rule or lexicon entry is tuned against it: it is the
  estimate for documents nobody here has seen.

Each document mixes labelled values with values that have no label (the seller only in the
letterhead, a paid stamp, line items to count, a receipt's bare date-and-time line, the
customer's e-mail in the bill-to block, a due date in a sentence) and decoys (PO and order
numbers, a subtotal beside the total, the vendor's own e-mail, a discount rate, a tax amount
without a rate, delivery dates). Each half has ``schema.json`` (an invoice schema as a new
user would write it: names, types and two or three aliases) and ``ground_truth.json`` (what a
careful reader would fill in, ``null`` where the document does not say).
"""

from __future__ import annotations

import html
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from make_pdfs import build_pdf  # noqa: E402

OUT = HERE / "generated"
SEED = 20250316
PER_HALF = 160
VOCAB = json.loads((OUT / "vocabulary.json").read_text(encoding="utf-8"))

SCHEMA: dict[str, Any] = {
    "name": "Invoice (generated evaluation)",
    "fields": [
        {"name": "invoice_number", "type": "string", "aliases": ["Invoice No", "Invoice #"]},
        {"name": "po_number", "type": "string", "aliases": ["PO Number", "Purchase Order"]},
        {"name": "vendor", "type": "string", "aliases": ["Supplier", "Seller"]},
        {"name": "customer_email", "type": "email", "aliases": ["Email", "Bill To Email"]},
        {"name": "invoice_date", "type": "date", "aliases": ["Date", "Issue Date"]},
        {"name": "due_date", "type": "date", "aliases": ["Payment Due", "Due"]},
        {"name": "subtotal", "type": "number", "aliases": ["Net Amount"]},
        {"name": "tax_rate", "type": "number", "aliases": ["VAT Rate", "Tax %"]},
        {"name": "tax_amount", "type": "number", "aliases": ["Tax", "VAT"]},
        {"name": "total", "type": "currency", "aliases": ["Total Due", "Amount Due"]},
        {"name": "item_count", "type": "integer", "aliases": ["Items", "Number of Items"]},
        {"name": "paid", "type": "boolean", "aliases": ["Payment Received"]},
        {"name": "payment_method", "type": "enum", "aliases": ["Paid By", "Payment Type"],
         "values": ["card", "bank_transfer", "cash", "check", "paypal", "direct_debit"]},
    ],
}
FIELDS = [f["name"] for f in SCHEMA["fields"]]

LAYOUTS: dict[str, dict[str, list[str]]] = {
    "tuning": {"txt": ["colon", "nextline"], "md": ["md_table"], "html": ["html_table"],
               "pdf": ["pdf_columns"]},
    "heldout": {"txt": ["leaders", "twocol", "till"], "md": ["md_bold"],
                "html": ["html_dl", "html_p"],
                "pdf": ["pdf_stacked", "pdf_inline"]},
}
KINDS = ["invoice"] * 8 + ["receipt"] * 4 + ["purchase_order"] * 2 + ["statement"] * 2

WORDS_A = ["Acme", "Blue", "Cedar", "Delta", "Evergreen", "Falcon", "Granite", "Harbor", "Iris",
           "Juniper", "Kestrel", "Lumen", "Maple", "Northwind", "Orchard", "Pioneer", "Quarry",
           "Riverside", "Summit", "Tidal", "Upland", "Vertex", "Willow", "Zephyr", "Copper",
           "Silver", "Beacon", "Meadow", "Crescent", "Aurora"]
WORDS_B = ["Supplies", "Consulting", "Logistics", "Print", "Foods", "Software", "Design",
           "Hardware", "Electric", "Coffee", "Books", "Studio", "Analytics", "Outfitters",
           "Bakery", "Pharmacy", "Garden Centre", "Motors", "Labs", "Traders"]
FORMS = ["Ltd", "LLC", "Inc.", "GmbH", "Co.", "Ltd.", "S.A.", "B.V.", "", ""]
PEOPLE = ["Jordan Lee", "Maria Gomez", "Sam Patel", "Aiko Tanaka", "Lena Fischer", "Omar Haddad",
          "Chloe Martin", "Noah Berg", "Priya Nair", "Tom Walsh"]
STREETS = ["12 High Street", "400 Market St", "7 Harbour Road", "Unit 5, Mill Lane",
           "88 Elm Avenue", "Hauptstrasse 21", "3 Quay Side", "150 King St W"]
TOWNS = ["Springfield, IL 62701", "Leeds LS1 4AB", "Berlin 10115", "Dublin D02 X285",
         "Toronto ON M5H 2N2", "Rotterdam 3011", "Bristol BS1 5TR", "Austin, TX 78701"]
ITEMS = ["A4 paper, 5 reams", "Toner cartridge", "Consulting hours", "Desk lamp", "USB-C cable",
         "Coffee beans 1kg", "Annual licence", "Delivery charge", "Monitor stand",
         "Notebook pack", "Office chair", "Server maintenance", "Printing (colour)",
         "Sandwich", "Latte", "Water 0.5l", "Bagel", "Croissant"]
CURRENCIES = [("USD", "${a}"), ("EUR", "{a} \u20ac"), ("GBP", "\u00a3{a}"), ("USD", "USD {a}"),
              ("EUR", "EUR {a}"), ("CAD", "CAD {a}"), ("GBP", "GBP {a}")]
TAX_RATES = [5.0, 7.0, 8.0, 8.5, 9.0, 10.0, 13.0, 19.0, 20.0, 21.0]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]


def fmt_date(d: date, style: int) -> str:
    """Unambiguous spellings only (day > 12 for numeric forms), as a careful writer would."""
    if style == 0 or d.day <= 12 and style in (3, 4):
        return d.isoformat()
    if style == 1:
        return f"{d.day} {MONTHS[d.month - 1]} {d.year}"
    if style == 2:
        return f"{MONTHS[d.month - 1][:3]} {d.day}, {d.year}"
    if style == 3:
        return f"{d.day:02d}/{d.month:02d}/{d.year}"
    if style == 4:
        return f"{d.day:02d}.{d.month:02d}.{d.year}"
    return f"{MONTHS[d.month - 1]} {d.day}, {d.year}"


def money(amount: float, style: str) -> str:
    return style.format(a=f"{amount:,.2f}")


@dataclass
class Doc:
    """A document as blocks, rendered by a layout; ``truth`` is the expected row."""

    kind: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)
    truth: dict[str, Any] = field(default_factory=dict)


class Builder:
    def __init__(self, rng: random.Random, half: str) -> None:
        self.rng = rng
        self.half = half

    def word(self, key: str) -> str:
        return str(self.rng.choice(VOCAB["labels"][key][self.half]))

    def company(self) -> str:
        form = self.rng.choice(FORMS)
        name = f"{self.rng.choice(WORDS_A)} {self.rng.choice(WORDS_B)}"
        return f"{name} {form}".strip()

    def email(self, name: str, local: str) -> str:
        domain = "".join(ch for ch in name.split()[0].lower() if ch.isalnum())
        return f"{local}@{domain}{self.rng.choice(['-mail', 'corp', 'co', ''])}.example"

    def build(self, kind: str) -> Doc:  # noqa: C901 - one document, top to bottom
        """One document of ``kind``. Kept as one straight sequence on purpose: the order of
        the random draws is what makes the output reproducible byte for byte."""
        rng = self.rng
        doc = Doc(kind, truth=dict.fromkeys(FIELDS))
        seller, buyer = self.company(), self.company()
        cur, style = rng.choice(CURRENCIES)
        issued = date(2024, 1, 1) + timedelta(days=rng.randrange(700))
        dstyle = rng.randrange(6)
        seller_email = self.email(seller, rng.choice(["billing", "accounts", "hello", "info"]))
        buyer_email = self.email(buyer, rng.choice(["ap", "finance", "purchasing", "j.doe"]))
        n_items = rng.randint(1, 6) if kind != "statement" else 0
        prices = [round(rng.uniform(2, 400), 2) for _ in range(n_items)]
        qtys = [rng.randint(1, 4) for _ in range(n_items)]
        subtotal = round(sum(p * q for p, q in zip(prices, qtys, strict=True)), 2)
        rate = rng.choice(TAX_RATES)
        tax = round(subtotal * rate / 100, 2)
        total = round(subtotal + tax, 2)
        t = doc.truth
        # Letterhead: the seller (the buyer, on a purchase order), address, its own e-mail.
        head = buyer if kind == "purchase_order" else seller
        head_email = self.email(head, "office") if kind == "purchase_order" else seller_email
        printed = head.upper() if rng.random() < 0.3 else head
        doc.blocks.append(("letterhead", [printed,
                                          rng.choice(STREETS), rng.choice(TOWNS),
                                          f"Tel +1 555 {rng.randint(1000, 9999)} | {head_email}"]))
        title = {"invoice": rng.choice(["INVOICE", "Tax Invoice", "Invoice"]),
                 "receipt": rng.choice(["RECEIPT", "Sales Receipt", "Receipt"]),
                 "purchase_order": rng.choice(["PURCHASE ORDER", "Purchase Order"]),
                 "statement": rng.choice(["STATEMENT", "Statement of Account"])}[kind]
        doc.blocks.append(("title", title))
        pairs: list[tuple[str, str]] = []
        number = f"{rng.choice(['INV', 'A', 'BL', 'F'])}-{rng.randint(1000, 99999)}"
        if kind == "invoice":
            pairs.append((self.word("invoice_number"), number))
            t["invoice_number"] = number
        elif kind == "receipt":
            pairs.append((self.word("receipt_number"), number))
            t["invoice_number"] = number
        elif kind == "statement":
            pairs.append(("Account No.", f"AC-{rng.randint(10000, 99999)}"))
        po = f"PO-{rng.randint(1000, 99999)}"
        if kind == "purchase_order":
            pairs.append((self.word("po_number"), po))
            t["po_number"] = po
        elif kind == "invoice" and rng.random() < 0.5:
            pairs.append((self.word("po_number"), po))
            t["po_number"] = po
        if kind == "invoice":
            pairs.append((self.word("invoice_date"), fmt_date(issued, dstyle)))
            t["invoice_date"] = issued.isoformat()
        elif kind == "receipt":
            if rng.random() < 0.5:
                pairs.append((self.word("receipt_date"), fmt_date(issued, dstyle)))
            else:
                doc.blocks.append(("bare", f"{fmt_date(issued, dstyle)}  "
                                           f"{rng.randint(8, 21):02d}:{rng.randint(0, 59):02d}"))
            t["invoice_date"] = issued.isoformat()
        elif kind == "purchase_order":
            pairs.append(("Order Date", fmt_date(issued, dstyle)))
            later = issued + timedelta(days=rng.randint(5, 30))
            pairs.append(("Delivery Date", fmt_date(later, dstyle)))
        else:
            pairs.append(("Statement Date", fmt_date(issued, dstyle)))
        due = issued + timedelta(days=rng.choice([14, 15, 30, 45]))
        due_sentence = False
        if kind in ("invoice", "statement"):
            if rng.random() < 0.3:
                due_sentence = True
            else:
                pairs.append((self.word("due_date"), fmt_date(due, dstyle)))
            t["due_date"] = due.isoformat()
        # Vendor: labelled sometimes, else only the letterhead.
        if kind == "purchase_order":
            doc.blocks.append(("pairs", pairs))
            pairs = []
            doc.blocks.append(("block", ("Vendor:", [seller, rng.choice(STREETS), seller_email])))
            t["vendor"] = seller
        else:
            if rng.random() < 0.35:
                pairs.insert(0, (self.word("vendor"), seller))
                t["vendor"] = seller
            else:  # only the letterhead names the seller: the truth is what it prints
                t["vendor"] = printed
        doc.blocks.append(("pairs", pairs))
        # The customer: e-mail labelled, or only inside the bill-to block.
        if kind in ("invoice", "statement"):
            lines = [buyer, rng.choice(STREETS), rng.choice(TOWNS)]
            if rng.random() < 0.5:
                doc.blocks.append(("block", (rng.choice(["Bill To:", "Billed To:", "Customer:"]),
                                             [*lines, buyer_email])))
            else:
                doc.blocks.append(("block", (rng.choice(["Bill To:", "Customer:"]), lines)))
                doc.blocks.append(("pairs", [(self.word("customer_email"), buyer_email)]))
            t["customer_email"] = buyer_email
        elif kind == "receipt" and rng.random() < 0.3:
            doc.blocks.append(("para", f"A copy of this receipt was e-mailed to {buyer_email}."))
            t["customer_email"] = buyer_email
        # Items.
        if kind == "statement":
            rows = []
            for _ in range(rng.randint(2, 4)):
                d = issued - timedelta(days=rng.randint(5, 60))
                rows.append([fmt_date(d, dstyle), f"INV-{rng.randint(1000, 99999)}",
                             f"{rng.uniform(20, 900):,.2f}"])
            doc.blocks.append(("items", (["Date", "Reference", "Amount"], rows)))
        else:
            rows = [[rng.choice(ITEMS), str(q), f"{p:,.2f}", f"{p * q:,.2f}"]
                    for p, q in zip(prices, qtys, strict=True)]
            doc.blocks.append(("items", (["Description", "Qty", "Unit Price", "Amount"], rows)))
            t["item_count"] = n_items
            if rng.random() < 0.35:
                doc.blocks.append(("pairs", [(self.word("item_count"), str(n_items))]))
        # Totals.
        if kind == "statement":
            key = "statement_total"
        else:
            key = {"invoice": "total", "receipt": "receipt_total",
                   "purchase_order": "po_total"}[kind]
            sums: list[tuple[str, str]] = [(self.word("subtotal"), f"{subtotal:,.2f}")]
            t["subtotal"] = subtotal
            if rng.random() < 0.2:
                sums.append((f"Discount {rng.choice([5, 10, 15])}%", "0.00"))
            form = rng.randrange(3)
            if form == 0:  # rate inside the tax label: "Tax 9%   9.41"
                sums.append((f"{rng.choice(['Tax', 'VAT', 'GST', 'Sales Tax'])} {rate:g}%",
                             f"{tax:,.2f}"))
                t["tax_rate"] = rate
            elif form == 1:
                sums.append((self.word("tax_rate"), f"{rate:g}%"))
                sums.append((self.word("tax_amount"), f"{tax:,.2f}"))
                t["tax_rate"] = rate
            else:  # a tax amount with no rate
                sums.append((self.word("tax_amount"), f"{tax:,.2f}"))
            t["tax_amount"] = tax
            doc.blocks.append(("pairs", sums))
        if kind == "statement":
            total = round(rng.uniform(50, 3000), 2)
            doc.blocks.append(("pairs", [("Previous Balance", f"{total + 120:,.2f}"),
                                         ("Payments Received", f"-{120:,.2f}")]))
        doc.blocks.append(("pairs", [(self.word(key), money(total, style))]))
        t["total"] = {"amount": total, "currency": cur}
        # Paid and the payment method.
        method = rng.choice(list(VOCAB["enum_words"]))
        method_word = rng.choice(VOCAB["enum_words"][method][self.half])
        if kind == "receipt":
            t["paid"] = True
            if method == "direct_debit":
                method, method_word = "cash", "Cash"
            if rng.random() < 0.5:
                doc.blocks.append(("pairs", [(self.word("payment_method"), method_word)]))
            else:
                doc.blocks.append(("para", f"Paid with {method_word}. Thank you for your "
                                           "purchase!"))
            t["payment_method"] = method
        elif kind == "invoice":
            state = rng.randrange(4)
            if state == 0:
                doc.blocks.append(("stamp", rng.choice(["PAID", "*** PAID ***", "PAID IN FULL"])))
                t["paid"] = True
            elif state == 1:
                value = rng.choice(VOCAB["paid_values"]["true"][self.half])
                doc.blocks.append(("pairs", [(self.word("paid"), value)]))
                t["paid"] = True
            elif state == 2:
                value = rng.choice(VOCAB["paid_values"]["false"][self.half])
                doc.blocks.append(("pairs", [(self.word("paid"), value)]))
                t["paid"] = False
            if rng.random() < 0.6:
                doc.blocks.append(("pairs", [(self.word("payment_method"), method_word)]))
                t["payment_method"] = method
        elif kind == "statement" and rng.random() < 0.4:
            doc.blocks.append(("para", f"The amount due will be collected by {method_word} "
                                       "on the due date."))
            t["payment_method"] = method
        if due_sentence:
            doc.blocks.append(("para", f"Please pay by {fmt_date(due, 1)}. Thank you."))
        doc.blocks.append(("para", f"Questions? Contact {seller_email}."))
        return doc


# ---------------------------------------------------------------------------- renderers
TILL = 34
"""Characters per line of a narrow till receipt."""


def render_till(doc: Doc) -> str:
    """A narrow till print: centred header, values flush right, items on two lines."""
    out: list[str] = []
    for kind, data in doc.blocks:
        if kind == "letterhead":
            out += [line.center(TILL).rstrip() for line in data] + [""]
        elif kind in ("title", "stamp"):
            out += [data.center(TILL).rstrip(), ""]
        elif kind in ("bare", "para"):
            out += [data, ""]
        elif kind == "block":
            out += [data[0], *[f" {x}" for x in data[1]], ""]
        elif kind == "items":
            head, rows = data
            out.append("-" * TILL)
            for r in rows:
                if len(r) == 4:
                    out += [r[0][:TILL], f"  {r[1]} x {r[2]}".ljust(TILL - len(r[3])) + r[3]]
                else:
                    out.append("  ".join(r))
            out.append("-" * TILL)
        elif kind == "pairs":
            for k, v in data:
                gap = max(2, TILL - len(k) - len(v))
                out.append(f"{k}{' ' * gap}{v}")
            out.append("")
    return "\n".join(out) + "\n"


def render_txt(doc: Doc, layout: str) -> str:
    if layout == "till":
        return render_till(doc)
    out: list[str] = []
    for kind, data in doc.blocks:
        if kind == "letterhead":
            out += data + [""]
        elif kind == "title":
            out += [data, ""]
        elif kind in ("bare", "stamp", "para"):
            out += [data, ""]
        elif kind == "block":
            label, lines = data[0], data[1]
            out += [label, *[f"  {x}" for x in lines], ""]
        elif kind == "items":
            head, rows = data
            out.append("   ".join(f"{h:<22}" for h in head).rstrip())
            out += ["   ".join(f"{c:<22}" for c in r).rstrip() for r in rows]
            out.append("")
        elif kind == "pairs":
            if layout == "colon":
                out += [f"{k}: {v}" for k, v in data]
            elif layout == "nextline":
                for k, v in data:
                    out += [f"{k}:", v]
            elif layout == "leaders":
                out += [f"{k} {'.' * max(3, 28 - len(k))} {v}" for k, v in data]
            else:  # twocol: two pairs on one line
                for i in range(0, len(data), 2):
                    chunk = data[i : i + 2]
                    out.append("      ".join(f"{k}: {v}" for k, v in chunk))
            out.append("")
    return "\n".join(out) + "\n"


def render_md(doc: Doc, layout: str) -> str:
    out: list[str] = []
    for kind, data in doc.blocks:
        if kind == "letterhead":
            out += [f"**{data[0]}**  ", *[f"{x}  " for x in data[1:]], ""]
        elif kind == "title":
            out += [f"# {data}", ""]
        elif kind == "stamp":
            out += [f"**{data}**", ""]
        elif kind in ("bare", "para"):
            out += [data, ""]
        elif kind == "block":
            out += [f"**{data[0]}**  ", *[f"{x}  " for x in data[1]], ""]
        elif kind == "items":
            head, rows = data
            out.append("| " + " | ".join(head) + " |")
            out.append("|" + "---|" * len(head))
            out += ["| " + " | ".join(r) + " |" for r in rows]
            out.append("")
        elif kind == "pairs":
            if layout == "md_table":
                out += ["| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in data]]
            else:
                out += [f"- **{k}:** {v}" for k, v in data]
            out.append("")
    return "\n".join(out) + "\n"


def render_html(doc: Doc, layout: str) -> str:
    e = html.escape
    out = ["<!doctype html>", "<html><head><meta charset=\"utf-8\"><title>Document</title>"
           "<style>td{padding:2px 8px}</style></head><body>"]
    for kind, data in doc.blocks:
        if kind == "letterhead":
            out.append(f"<header><h2>{e(data[0])}</h2>"
                       + "".join(f"<div>{e(x)}</div>" for x in data[1:]) + "</header>")
        elif kind == "title":
            out.append(f"<h1>{e(data)}</h1>")
        elif kind == "stamp":
            out.append(f"<p class=\"stamp\"><strong>{e(data)}</strong></p>")
        elif kind in ("bare", "para"):
            out.append(f"<p>{e(data)}</p>")
        elif kind == "block":
            out.append(f"<address><b>{e(data[0])}</b><br>"
                       + "<br>".join(e(x) for x in data[1]) + "</address>")
        elif kind == "items":
            head, rows = data
            out.append("<table class=\"items\"><tr>" + "".join(f"<th>{e(h)}</th>" for h in head)
                       + "</tr>" + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r)
                                           + "</tr>" for r in rows) + "</table>")
        elif kind == "pairs":
            if layout == "html_table":
                out.append("<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>"
                                               for k, v in data) + "</table>")
            elif layout == "html_dl":
                out.append("<dl>" + "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in data)
                           + "</dl>")
            else:
                out += [f"<p><b>{e(k)}:</b> {e(v)}</p>" for k, v in data]
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def render_pdf(doc: Doc, layout: str) -> bytes:
    lines: list[Any] = []
    for kind, data in doc.blocks:
        if kind == "letterhead":
            lines += [f"**{data[0]}**", *data[1:], ""]
        elif kind == "title":
            lines += [f"**{data}**", ""]
        elif kind in ("bare", "stamp", "para"):
            lines += [data, ""]
        elif kind == "block":
            lines += [data[0], *data[1], ""]
        elif kind == "items":
            head, rows = data
            xs = [72, 260, 320, 420]
            for r in [head, *rows]:
                lines.append([(x, c) for x, c in zip(xs, r, strict=False)])
            lines.append("")
        elif kind == "pairs":
            for k, v in data:
                if layout == "pdf_columns":
                    lines.append([(72, k), (300, v)])
                elif layout == "pdf_stacked":
                    lines += [k, v]
                else:
                    lines.append(f"{k}: {v}")
            lines.append("")
    pages: list[Any] = []
    for i, line in enumerate(lines):
        if i and i % 40 == 0:
            pages.append("\f")
        pages.append(line)
    return build_pdf(pages)


RENDER: dict[str, Callable[[Doc, str], str | bytes]] = {
    "txt": render_txt, "md": render_md, "html": render_html, "pdf": render_pdf}


def write_half(half: str, count: int, seed: int) -> int:
    rng = random.Random(f"{seed}-{half}")
    folder = OUT / half
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    builder = Builder(rng, half)
    truth: dict[str, dict[str, Any]] = {}
    formats = ["txt", "md", "html", "pdf"]
    for i in range(count):
        kind = rng.choice(KINDS)
        fmt = formats[i % 4]
        layout = rng.choice(LAYOUTS[half][fmt])
        doc = builder.build(kind)
        name = f"{half[0]}-{i + 1:03d}-{kind.replace('_', '-')}-{layout.replace('_', '-')}.{fmt}"
        body = RENDER[fmt](doc, layout)
        path = folder / name
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body, encoding="utf-8")
        truth[name] = doc.truth
    (folder / "schema.json").write_text(json.dumps(SCHEMA, indent=2) + "\n", encoding="utf-8")
    (folder / "ground_truth.json").write_text(json.dumps(truth, indent=1) + "\n",
                                              encoding="utf-8")
    return count


def main() -> None:
    total = sum(write_half(half, PER_HALF, SEED) for half in ("tuning", "heldout"))
    print(f"wrote {total} documents under {OUT}")


if __name__ == "__main__":
    main()
