"""Write the sample PDFs with the standard library only (run: ``python samples/make_pdfs.py``).

Each PDF is hand-assembled: a catalog, a page tree, Helvetica and Helvetica-Bold (standard
Type 1 fonts, WinAnsi encoding so ``€ £ ¥`` work), one content stream per page and a
cross-reference table with exact byte offsets. The output is deterministic, so re-running the
script reproduces the committed files byte for byte.

A line is either a string (drawn at the left margin) or a list of ``(x, text)`` /
``(x, text, bold)`` pieces drawn on the same baseline, which is how real invoices place
values in a second column. ``PAGE_BREAK`` starts a new page.

Also written: ``bad/corrupt.pdf`` (a truncated, garbled PDF) and ``bad/no_text.pdf`` (a valid
PDF whose only page is a drawing, i.e. no text layer).
"""

from __future__ import annotations

from pathlib import Path

Piece = tuple[int, str] | tuple[int, str, bool]
Line = str | list[Piece]

HERE = Path(__file__).resolve().parent
PAGE_BREAK = "\f"
LEFT, TOP, LEADING, SIZE = 72, 740, 17, 11


def _escape(text: str) -> str:
    out: list[str] = []
    for byte in text.encode("cp1252"):
        char = chr(byte)
        if char in "()\\":
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03o}")
    return "".join(out)


def _pieces(line: Line) -> list[tuple[int, str, bool]]:
    if isinstance(line, str):
        bold = line.startswith("**") and line.endswith("**")
        return [(LEFT, line.strip("*") if bold else line, bold)]
    return [(p[0], p[1], len(p) == 3 and bool(p[-1])) for p in line]


def _content(lines: list[Line]) -> bytes:
    ops: list[str] = []
    y = TOP
    for line in lines:
        for x, text, bold in _pieces(line):
            if text:
                font = "F2" if bold else "F1"
                ops.append(f"BT /{font} {SIZE} Tf 1 0 0 1 {x} {y} Tm ({_escape(text)}) Tj ET")
        y -= LEADING
    return "\n".join(ops).encode("ascii")


def _pages(lines: list[Line]) -> list[list[Line]]:
    pages: list[list[Line]] = [[]]
    for line in lines:
        if line == PAGE_BREAK:
            pages.append([])
        else:
            pages[-1].append(line)
    return pages


def build_pdf(lines: list[Line], *, drawing_only: bool = False) -> bytes:
    """Assemble a PDF; ``drawing_only`` makes one page with a rectangle and no text."""
    streams = [b"0.2 0.4 0.8 rg 72 600 300 120 re f"] if drawing_only else [
        _content(page) for page in _pages(lines)
    ]
    n = len(streams)
    kids = " ".join(f"{5 + 2 * i} 0 R" for i in range(n))
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    ]
    for i, stream in enumerate(streams):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents {6 + 2 * i} 0 R >>"
            .encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def corrupt_pdf() -> bytes:
    """A PDF header, then a cut-off object and noise: no reader can make pages of it."""
    good = build_pdf(["Invoice Number: BAD-0001", "Total: $1.00"])
    return good[:60] + bytes((i * 37 + 11) % 256 for i in range(400))


V = 230  # x of the value column in two-column layouts

INVOICES: dict[str, list[Line]] = {
    "inv-04-pacific-freight.pdf": [
        "**PACIFIC FREIGHT CO.**",
        "Commercial Invoice",
        "",
        [(LEFT, "Invoice No"), (V, "PF-88213")],
        [(LEFT, "Invoice Date"), (V, "Aug 28, 2024")],
        [(LEFT, "Due Date"), (V, "Sep 27, 2024")],
        [(LEFT, "Vendor"), (V, "Pacific Freight Co.")],
        [(LEFT, "Email"), (V, "shipping@wideworld.example")],
        "",
        [(LEFT, "Items"), (V, "5")],
        [(LEFT, "Subtotal"), (V, "4,210.00")],
        [(LEFT, "Tax Rate"), (V, "7.25%")],
        [(LEFT, "Total", True), (V, "USD 4,515.23", True)],
        [(LEFT, "Payment Method"), (V, "Check")],
        [(LEFT, "Paid"), (V, "No")],
    ],
    "inv-08-sakura-tea.pdf": [
        "**Sakura Tea Trading K.K.**",
        "INVOICE",
        "Invoice #: ST-7781",
        "Date: 2024/09/01",
        "Payment Due: 2024/09/30",
        "Seller: Sakura Tea Trading K.K.",
        "Bill To Email: purchasing@margie.example",
        "",
        [(LEFT, "Item", True), (250, "Qty", True), (330, "Amount", True)],
        [(LEFT, "Sencha 100g"), (250, "10"), (330, "¥12,000")],
        [(LEFT, "Matcha 30g"), (250, "5"), (330, "¥15,000")],
        "",
        "Items: 2",
        "Subtotal: 27,000",
        "Tax Rate: 10%",
        "**Total: ¥29,700**",
        "Payment Method: Bank Transfer",
        "Paid: Yes",
    ],
    "inv-12-atlas-tools.pdf": [
        "**Atlas Tools & Hardware**",
        "INVOICE",
        "Inv. No.: AT-60021",
        "Invoice Date: 09/15/2024",
        "Due Date: 10/15/2024",
        "Supplier: Atlas Tools & Hardware",
        "E-mail: accounts@fourthcoffee.example",
        "",
        [(LEFT, "Qty", True), (120, "Description", True), (300, "Unit", True),
         (400, "Total", True)],
        [(LEFT, "3"), (120, "Cordless drill"), (300, "$89.00"), (400, "$267.00")],
        [(LEFT, "10"), (120, "Drill bit set"), (300, "$12.50"), (400, "$125.00")],
        [(LEFT, "2"), (120, "Safety goggles"), (300, "$9.75"), (400, "$19.50")],
        [(LEFT, "1"), (120, "Tool box"), (300, "$45.00"), (400, "$45.00")],
        "",
        "Number of Items: 4",
        "Subtotal: 456.50",
        "Tax Rate: 8.25%",
        "**Grand Total: $494.16**",
        "Payment Method: Card",
        "Paid: Yes",
    ],
    "inv-16-coastal-electric.pdf": [
        "**Coastal Electric Cooperative**",
        "Utility Invoice - Account Statement",
        "",
        "Invoice Number:",
        "CE-400187",
        "",
        "Invoice Date:",
        "09/05/2024",
        "",
        "Payment Due:",
        "09/25/2024",
        "",
        "Billed By:",
        "Coastal Electric Cooperative",
        "",
        "Amount Due:",
        "$142.87",
        "",
        "Paid: No",
        "Payment method: Card",
    ],
    "inv-20-metro-taxi.pdf": [
        "**METRO TAXI**",
        "Trip Receipt / Invoice",
        "Invoice No: MT-77120",
        "Date: Sep 9, 2024 11:42 PM",
        "Driver: #4471",
        "Fare: $23.40",
        "Tip: $4.00",
        "Total: $27.40",
        "Paid: Yes",
        "Payment Type: Card",
        "Email receipt to: rider@outlook.example",
    ],
    "inv-24-granite-construction.pdf": [
        "**Granite Construction Group**",
        "INVOICE",
        "Invoice No: GC-3300",
        "Invoice Date: 14 June 2024",
        "Due Date: 14 July 2024",
        "Vendor: Granite Construction Group",
        "Contact Email: pm@tradewinds.example",
        "",
        "Work performed",
        "Site preparation ........ $12,000.00",
        "Foundation .............. $28,500.00",
        "Framing ................. $41,250.00",
        "Electrical rough-in ..... $9,800.00",
        "Plumbing rough-in ....... $7,600.00",
        "(continued on next page)",
        PAGE_BREAK,
        "**Summary**",
        "Number of items: 5",
        "Subtotal ................ 99,150.00",
        "Tax Rate ................ 0%",
        "Total Due ............... $99,150.00",
        "Paid: no",
        "Payment method: check",
    ],
    "inv-28-helios-solar.pdf": [
        "**Helios Solar AG**",
        "Invoice",
        "",
        [(LEFT, "Invoice No", True), (200, "Invoice Date", True), (330, "Due Date", True)],
        [(LEFT, "HS-2024-77"), (200, "30.04.2024"), (330, "30.05.2024")],
        "",
        "Supplier: Helios Solar AG",
        "Email: finance@relecloud.example",
        "",
        [(LEFT, "Solar panels 400W x 12"), (330, "CHF 4'800.00")],
        [(LEFT, "Inverter"), (330, "CHF 1'350.00")],
        [(LEFT, "Installation"), (330, "CHF 2'100.00")],
        "",
        "Items: 3",
        "Subtotal: 8'250.00",
        "VAT Rate: 8.1%",
        "**Total: CHF 8'918.25**",
        "Payment method: Bank transfer",
        "Paid: no",
    ],
    "inv-32-keystone-it.pdf": [
        "**KEYSTONE IT SERVICES**",
        "INVOICE NO: KIT-8801",
        "INVOICE DATE: 2024-10-21",
        "DUE DATE: 2024-11-20",
        "SUPPLIER: Keystone IT Services S.L.",
        "EMAIL: it-admin@graphicdesign.example",
        "",
        [(LEFT, "Managed services (Oct)"), (350, "1.500,00")],
        [(LEFT, "Laptop setup x 3"), (350, "450,00")],
        [(LEFT, "Discount"), (350, "(150,00)")],
        "",
        "ITEMS: 3",
        "SUBTOTAL: 1.800,00",
        "TAX RATE: 21%",
        "**TOTAL (EUR): 2.178,00**",
        "PAID: YES",
        "PAYMENT METHOD: BANK TRANSFER",
    ],
    "inv-34-alpine-print.pdf": [
        "**Alpine Print & Copy**",
        "Invoice",
        [(LEFT, "Invoice Number:"), (V, "AP-0099")],
        [(LEFT, "Issue Date:"), (V, "21/10/2024")],
        [(LEFT, "Due Date:"), (V, "04/11/2024")],
        [(LEFT, "Vendor:"), (V, "Alpine Print & Copy GmbH")],
        [(LEFT, "Email:"), (V, "office@alpineski.example")],
        [(LEFT, "Items:"), (V, "2")],
        [(LEFT, "Subtotal:"), (V, "CHF 380.00")],
        [(LEFT, "Tax Rate:"), (V, "8.1%")],
        [(LEFT, "Total:", True), (V, "CHF 410.78", True)],
        [(LEFT, "Payment Method:"), (V, "Cash")],
        [(LEFT, "Paid:"), (V, "Yes")],
    ],
}

R = 330  # x of the right-hand column

HOLDOUT: dict[str, list[Line]] = {
    "h-04-vertex-freight.pdf": [
        "**VERTEX FREIGHT LOGISTICS**",
        "FREIGHT INVOICE",
        "",
        [(LEFT, "Invoice No: VF-77001"), (R, "Invoice Date: 2024-08-05")],
        [(LEFT, "Vendor: Vertex Freight Logistics"), (R, "Due Date: 2024-09-04")],
        [(LEFT, "Email: billing@wideworld.example"), (R, "Payment Type: Check")],
        "",
        [(LEFT, "Shipment", True), (250, "Weight", True), (380, "Charge", True)],
        [(LEFT, "Pallets (x6)"), (250, "1,200 kg"), (380, "USD 1,450.00")],
        [(LEFT, "Fuel surcharge"), (380, "USD 145.00")],
        "",
        "Number of items: 2",
        "Subtotal: 1,595.00",
        "Tax rate: 0%",
        "**Total due: USD 1,595.00**",
        "Paid: no",
    ],
    "h-08-redrock-auto.pdf": [
        "**REDROCK AUTO REPAIR**",
        "Repair Order / Invoice",
        "",
        "**Invoice Number**",
        "RR-90210",
        "**Invoice Date**",
        "06/07/2024",
        "**Due Date**",
        "07/07/2024",
        "**Supplier**",
        "Redrock Auto Repair Inc.",
        "**Customer Email**",
        "d.nguyen@mail.example",
        "",
        [(LEFT, "Labor"), (300, "$420.00")],
        [(LEFT, "Brake pads (front)"), (300, "$89.99")],
        [(LEFT, "Rotor resurfacing"), (300, "$60.00")],
        [(LEFT, "Coupon"), (300, "($25.00)")],
        "",
        "Items: 4",
        "Subtotal: 544.99",
        "Tax rate: 6.25%",
        "Amount due: $579.05",
        "Paid: Yes",
        "Payment method: Card",
    ],
}


UNSEEN: dict[str, list[Line]] = {
    "u-04-lumen-signup-form.pdf": [
        "**LUMEN FIBER BROADBAND**",
        "Business Service Application Form",
        "",
        "**Section A - Customer details**",
        [(LEFT, "Customer name"), (V, "Oakridge Dental Group PLLC")],
        [(LEFT, "Contact email"), (V, "frontdesk@oakridgedental.example")],
        [(LEFT, "Customer number"), (V, "LF-CU-20931")],
        "",
        "**Section B - Service**",
        [(LEFT, "Contract number"), (V, "LFB-73310")],
        [(LEFT, "Plan"), (V, "Business Fiber 500")],
        [(LEFT, "Monthly charge"), (V, "$189.99")],
        [(LEFT, "Installation fee"), (V, "$0.00 (waived)")],
        [(LEFT, "Contract term"), (V, "[ ] 12 months"), (320, "[x] 24 months"),
         (410, "[ ] 36 months")],
        [(LEFT, "Service start date"), (V, "09/16/2024")],
        [(LEFT, "Auto-renew"), (V, "[x] Yes"), (320, "[ ] No")],
        "",
        "**Section C - Authorization**",
        [(LEFT, "Customer signature: ____________________"), (R, "Date: Sept. 14, 2024")],
        "All services are provided under the laws of the State of California.",
    ],
    "u-09-greenfield-lease.pdf": [
        "**GREENFIELD EQUIPMENT LEASING LLC**",
        "Equipment Lease Agreement - Summary of Terms",
        "",
        [(LEFT, "Contract Number"), (V, "GEL-2290")],
        [(LEFT, "Client Name"), (V, "Hilltop Farms Cooperative")],
        [(LEFT, "Supplier"), (V, "Greenfield Equipment Leasing LLC")],
        [(LEFT, "Commencement Date"), (V, "2024-05-01")],
        [(LEFT, "Lease Term"), (V, "48 months")],
        [(LEFT, "Monthly Payment"), (V, "$2,315.40")],
        [(LEFT, "Documentation Fee"), (V, "$350.00")],
        [(LEFT, "Automatic Renewal"), (V, "No")],
        "",
        "Notices:",
        "leasing@hilltopfarms.example",
        "",
        [(LEFT, "Governing Law:"), (V, "Delaware")],
        "",
        [(LEFT, "Lessor signature: ______________"), (R, "Date Signed: April 22, 2024")],
    ],
    "u-13-pinnacle-cleaning.pdf": [
        "**PINNACLE COMMERCIAL CLEANING**",
        "Service Agreement",
        "",
        [(LEFT, "AGREEMENT NO.", True), (R, "DATE OF SIGNATURE", True)],
        [(LEFT, "PCC-6620"), (R, "March 3, 2024")],
        "",
        [(LEFT, "SERVICE PROVIDER", True), (R, "CUSTOMER", True)],
        [(LEFT, "Pinnacle Commercial Cleaning Inc."), (R, "Lakeshore Office Park LLC")],
        "",
        [(LEFT, "SERVICES BEGIN", True), (R, "TERM", True)],
        [(LEFT, "March 15, 2024"), (R, "12 months")],
        "",
        [(LEFT, "Monthly service fee"), (V, "$3,980.00")],
        [(LEFT, "Startup fee (one-time)"), (V, "$500.00")],
        [(LEFT, "Early payment discount"), (V, "2%")],
        "",
        "Renewal: This agreement renews automatically for successive one-year terms unless",
        "either party gives written notice at least 30 days before expiration.",
        "",
        "Governing law: California",
        "Notices: ops@lakeshoreoffice.example",
    ],
}


CLAIMS: dict[str, list[Line]] = {
    "c-04-pacific-water.pdf": [
        "**PACIFIC SHORE INSURANCE CO.**",
        "Adjuster's Claim Summary",
        "",
        [(LEFT, "CLAIM NO.", True), (R, "POLICY NO.", True)],
        [(LEFT, "PS-2024-118830"), (R, "HO3-7730192")],
        "",
        [(LEFT, "INSURED", True), (R, "DATE OF LOSS", True)],
        [(LEFT, "Grace & Henry Whitmore"), (R, "July 22, 2024")],
        "",
        [(LEFT, "Loss type"), (V, "Water damage - burst pipe, upstairs bathroom")],
        [(LEFT, "Reported"), (V, "07/23/2024")],
        [(LEFT, "Claimed amount"), (V, "$8,960.00")],
        [(LEFT, "Deductible"), (V, "$1,000.00")],
        [(LEFT, "Injuries"), (V, "None")],
        [(LEFT, "Police report"), (V, "N/A")],
        "",
        "Contact the insured at gwhitmore@homemail.example for access to the property.",
    ],
    "c-08-metro-auto-form.pdf": [
        "**METRO AUTO INSURANCE**",
        "Accident Report Form",
        "",
        [(LEFT, "Claim number"), (V, "MA-2024-55019")],
        [(LEFT, "Policy number"), (V, "AUT-3381-0042")],
        [(LEFT, "Name of insured"), (V, "Carlos Mendes")],
        [(LEFT, "E-mail"), (V, "c.mendes@correo.example")],
        [(LEFT, "Date of incident"), (V, "Oct. 3, 2024")],
        [(LEFT, "Date reported"), (V, "Oct. 4, 2024")],
        [(LEFT, "Type of claim"), (V, "[x] Auto"), (320, "[ ] Theft"), (410, "[ ] Other")],
        [(LEFT, "Police report filed"), (V, "[x] Yes"), (320, "[ ] No")],
        [(LEFT, "Persons injured"), (V, "2")],
        [(LEFT, "Estimated damage"), (V, "USD 6,215.75")],
        [(LEFT, "Deductible"), (V, "500")],
    ],
}


FORMS: dict[str, list[Line]] = {
    "f-05-northgate-delivery.pdf": [
        "**NORTHGATE COURIERS**",
        "Depot 7, Ring Road, Nottingham NG2 1AA",
        "",
        "**DELIVERY NOTE**",
        "",
        [(LEFT, "Delivery Note No"), (V, "NGC-55821")],
        [(LEFT, "Date issued"), (V, "2025-03-05")],
        "",
        [(LEFT, "SHIPPER", True), (V, "CARRIER", True), (400, "PACKAGES", True)],
        [(LEFT, "Atlas Tools Inc."), (V, "Northgate Couriers"), (400, "6")],
        "",
        [(LEFT, "Delivered on"), (V, "March 7, 2025")],
        [(LEFT, "Consignee"), (V, "Fenwick Hardware, 22 Castle St, Derby")],
        "",
        "Email for tracking enquiries: tracking@northgate.example",
        "Goods received in good order. Signature: ____________",
    ],
}


EVERYDAY: dict[str, list[Line]] = {
    # Everyday PDFs as text extraction gives them: labels above their values, sentences
    # wrapped over two lines, service periods, relative terms and tick boxes.
    "e-33-electrician-invoice.pdf": [
        "**BRIGHTWIRE ELECTRICAL LTD**",
        "14 Forge Lane, Stockport SK4 2HQ",
        "accounts@brightwire.example",
        "",
        "**INVOICE**",
        "Invoice no.",
        "BWE-25-0412",
        "Date of invoice",
        "14 April 2025",
        "Customer",
        "Mrs J. Okafor",
        "jokafor@postbox.example",
        "",
        "Replace consumer unit and RCD testing           1        420.00",
        "Emergency call-out (Sunday)                     1         95.00",
        "",
        "Net amount",
        "515.00",
        "VAT 20%",
        "103.00",
        "Total due (GBP)",
        "618.00",
        "",
        "Please settle this invoice by bank transfer no later than",
        "12 May 2025, quoting the invoice number as your reference.",
        "Sort code 20-44-91  Account 55120873",
    ],
    "e-34-gym-membership-receipt.pdf": [
        "**PEAKFORM FITNESS CLUB**",
        "Unit 3, Riverside Retail Park, Leeds LS11 5QT",
        "",
        "**Membership Receipt**",
        [(LEFT, "Receipt number"), (R, "PF-883021")],
        [(LEFT, "Billed on"), (R, "01/06/2025")],
        [(LEFT, "Member"), (R, "Daniel Reyes")],
        [(LEFT, "Member e-mail"), (R, "d.reyes@mailbox.example")],
        [(LEFT, "Membership period"), (R, "01/06/2025 to 30/06/2025")],
        "",
        [(LEFT, "Monthly membership (Off-peak)"), (R, "£32.50")],
        [(LEFT, "Towel service"), (R, "£4.00")],
        [(LEFT, "Total"), (R, "£36.50", True)],
        "",
        "Paid on 1 June 2025 with your Visa debit card",
        "ending 4410. Thank you for training with us.",
    ],
    "e-35-cleaning-invoice.pdf": [
        "**SPARKLE & SHINE CLEANING SERVICES**",
        "hello@sparkleshine.example  |  0161 555 0190",
        "",
        "**Invoice**",
        "Invoice #",
        "SS-1187",
        "Invoiced",
        "3 March 2025",
        "Client",
        "Harbour View Dental Practice",
        "practice.manager@harbourviewdental.example",
        "Service period",
        "1-28 February 2025",
        "",
        "Weekly office clean (4 visits)                        480.00",
        "Window cleaning                                         60.00",
        "",
        "Sub-total",
        "540.00",
        "VAT (20%)",
        "108.00",
        "Invoice total",
        "£648.00",
        "",
        "Terms: Net 30. Payment can be made by bank transfer to the account",
        "shown below or by cheque payable to Sparkle & Shine Cleaning Services.",
    ],
    "e-36-accountant-invoice.pdf": [
        "**Hollis & Grant Chartered Accountants LLP**",
        "2 Minster Yard, York YO1 7HH",
        "",
        "**FEE NOTE / INVOICE**",
        [(LEFT, "Fee note no."), (V, "HG/2025/3391")],
        [(LEFT, "Your PO"), (V, "PO-77812")],
        [(LEFT, "Date"), (V, "30 April 2025")],
        [(LEFT, "Period covered"), (V, "Period: 01/01/2025 to 31/03/2025")],
        "",
        "To: Tamsin Vale Ceramics Ltd, finance@tamsinvale.example",
        "",
        "Preparation of quarterly VAT return and management",
        "accounts for the period above.",
        "",
        [(LEFT, "Fees"), (R, "1,150.00")],
        [(LEFT, "VAT at 20%"), (R, "230.00")],
        [(LEFT, "Amount payable"), (R, "GBP 1,380.00", True)],
        "",
        "This fee note is payable within 14 days of the invoice date. We will collect",
        "the amount by Direct Debit from your nominated account on or after",
        "14 May 2025.",
    ],
    "e-37-vet-receipt.pdf": [
        "**Meadowbank Veterinary Clinic**",
        "Meadowbank Road, Bath BA2 4RL  -  reception@meadowbankvets.example",
        "",
        "**CLIENT RECEIPT**",
        "Receipt No",
        "MVC-240518",
        "Date",
        "18/05/2025",
        "Client",
        "Priya Natarajan  (priya.n@fastmail.example)",
        "Patient",
        "Biscuit (canine)",
        "",
        "Consultation                                      45.00",
        "Vaccination booster                               38.00",
        "Flea treatment (3 months)                         29.00",
        "",
        "Total incl. VAT",
        "£112.00",
        "VAT included (20%)",
        "£18.67",
        "",
        "Paid:   [x] Yes   [ ] No",
        "Method:   [ ] Cash   [x] Card   [ ] Cheque   [ ] Bank transfer",
    ],
    "e-38-storage-invoice.pdf": [
        "**LOCKBOX SELF STORAGE**",
        "",
        "**Invoice**",
        [(LEFT, "Invoice number"), (V, "LB-559104")],
        [(LEFT, "Account"), (V, "C-20931")],
        [(LEFT, "Invoice date"), (V, "02/07/2025")],
        [(LEFT, "Rental period"), (V, "1-31 July 2025")],
        "",
        [(LEFT, "Unit 114 (50 sq ft) - monthly rent"), (R, "£89.00")],
        [(LEFT, "Contents insurance"), (R, "£6.50")],
        [(LEFT, "Subtotal"), (R, "£95.50")],
        [(LEFT, "VAT 20%"), (R, "£19.10")],
        [(LEFT, "Balance to pay"), (R, "£114.60", True)],
        "",
        "Your payment of £114.60 will be collected by Direct Debit on",
        "9 July 2025. If you have any questions about this invoice please",
        "contact us at billing@lockbox.example.",
        "",
        "Status",
        "UNPAID",
    ],
}


def write_all() -> list[Path]:
    """Write every sample PDF; return the paths written."""
    written: list[Path] = []
    sets = (("invoices", INVOICES), ("holdout", HOLDOUT), ("unseen", UNSEEN),
            ("claims", CLAIMS), ("forms", FORMS), ("everyday", EVERYDAY))
    for folder, docs in sets:
        for name, lines in docs.items():
            path = HERE / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(build_pdf(lines))
            written.append(path)
    bad = HERE / "bad"
    bad.mkdir(exist_ok=True)
    (bad / "corrupt.pdf").write_bytes(corrupt_pdf())
    (bad / "no_text.pdf").write_bytes(build_pdf([], drawing_only=True))
    written += [bad / "corrupt.pdf", bad / "no_text.pdf"]
    return written


if __name__ == "__main__":
    for written_path in write_all():
        print(written_path.relative_to(HERE.parent))
