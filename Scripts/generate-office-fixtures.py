#!/usr/bin/env python3
"""Writes the office-format test documents into Tests/CoreTests/Fixtures (run once; output committed).

pip install python-docx python-pptx openpyxl odfpy reportlab
"""
import datetime
import os
import zipfile

import docx
import openpyxl
from odf.draw import Frame, Page, TextBox
from odf.namespaces import PRESENTATIONNS
from odf.opendocument import OpenDocumentPresentation, OpenDocumentSpreadsheet, OpenDocumentText
from odf.presentation import Notes
from odf.style import MasterPage, PageLayout
from odf.table import Table, TableCell, TableRow
from odf.text import H, List, ListItem, P
from pptx import Presentation

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "CoreTests", "Fixtures")


def word():
    document = docx.Document()
    document.add_heading("Service Agreement", level=1)
    document.add_paragraph("Northwind Analytics GmbH provides document classification to Contoso Logistics Ltd.")
    document.add_heading("Fees", level=2)
    document.add_paragraph("EUR 18,500 per month for up to 400,000 documents.", style="List Bullet")
    document.add_paragraph("EUR 0.032 for each further document.", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Term"
    table.cell(0, 1).text = "24 months"
    table.cell(1, 0).text = "Notice"
    table.cell(1, 1).text = "90 days"
    document.add_paragraph("Signed in Hamburg.")
    document.save(os.path.join(OUT, "agreement.docx"))


def slides():
    presentation = Presentation()
    first = presentation.slides.add_slide(presentation.slide_layouts[1])
    first.shapes.title.text = "Quarterly Review"
    first.placeholders[1].text = "Volumes grew 7.2 percent"
    first.notes_slide.notes_text_frame.text = "Mention the Lyon outage."
    second = presentation.slides.add_slide(presentation.slide_layouts[1])
    second.shapes.title.text = "Outlook"
    second.placeholders[1].text = "Automated sorter in Vienna"
    presentation.save(os.path.join(OUT, "review.pptx"))


def sheets():
    workbook = openpyxl.Workbook()
    hubs = workbook.active
    hubs.title = "Hubs"
    hubs.append(["Hub", "Shipments", "On time", "Audited"])
    hubs.append(["Rotterdam", 512000, 0.951, datetime.date(2024, 3, 1)])
    hubs.append(["Lyon", 318000, 0.893, datetime.datetime(2024, 2, 29, 14, 30)])
    for row in hubs.iter_rows(min_row=2):
        row[1].number_format = "#,##0"
        row[2].number_format = "0.0%"
    hubs["D2"].number_format = "dd/mm/yyyy"
    hubs["D3"].number_format = "dd/mm/yyyy hh:mm"
    costs = workbook.create_sheet("Costs")
    costs.append(["Item", "EUR"])
    costs.append(["Energy", 41250.5])
    costs.append(["Refund", -1200])
    costs["B2"].number_format = '#,##0.00 [$€-407]'
    costs["B3"].number_format = '#,##0.00 [$€-407];-#,##0.00 [$€-407]'
    costs.append(["Ratio", 1 / 3])
    workbook.save(os.path.join(OUT, "volumes.xlsx"))


def opendocument():
    document = OpenDocumentText()
    document.text.addElement(H(outlinelevel=1, text="Energiebericht"))
    document.text.addElement(P(text="Der Stromverbrauch sank um 8 Prozent."))
    items = List()
    for text in ["Druckluft erneuert", "LED-Beleuchtung"]:
        item = ListItem()
        item.addElement(P(text=text))
        items.addElement(item)
    document.text.addElement(items)
    document.save(os.path.join(OUT, "energie.odt"))


def text_frame(presentation_class, text, height="10cm", y="5cm"):
    """A draw:frame of the given presentation:class holding one paragraph."""
    frame = Frame(width="20cm", height=height, x="1cm", y=y)
    frame.setAttrNS(PRESENTATIONNS, "class", presentation_class)
    box = TextBox()
    box.addElement(P(text=text))
    frame.addElement(box)
    return frame


def presentation():
    document = OpenDocumentPresentation()
    layout = PageLayout(name="layout")
    document.automaticstyles.addElement(layout)
    master = MasterPage(name="master", pagelayoutname=layout)
    document.masterstyles.addElement(master)
    for title, body, note in [
        ("Hafenbetrieb 2025", "Containerumschlag plus 4 Prozent", "Zahlen vom Controlling bestätigen."),
        ("Nächste Schritte", "Zweiter Kran ab Mai", None),
    ]:
        page = Page(masterpagename=master)
        document.presentation.addElement(page)
        page.addElement(text_frame("title", title, height="3cm", y="1cm"))
        page.addElement(text_frame("outline", body))
        if note:
            notes = Notes()
            notes.addElement(text_frame("notes", note))
            page.addElement(notes)
    document.save(os.path.join(OUT, "hafen.odp"))


def spreadsheet():
    document = OpenDocumentSpreadsheet()
    for name, rows in [
        ("Lager", [["Standort", "Paletten"], ["Bremen", "1.240"], ["Linz", "860"]]),
        ("Personal", [["Team", "Köpfe"], ["Nacht", "14"]]),
    ]:
        table = Table(name=name)
        for values in rows:
            row = TableRow()
            for value in values:
                cell = TableCell(valuetype="string")
                cell.addElement(P(text=value))
                row.addElement(cell)
            table.addElement(row)
        document.spreadsheet.addElement(table)
    document.save(os.path.join(OUT, "lager.ods"))


def ebook():
    path = os.path.join(OUT, "guide.epub")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>""")
        archive.writestr("OEBPS/content.opf", """<?xml version="1.0"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Scanner Guide</dc:title></metadata>
<manifest><item id="c2" href="two.xhtml" media-type="application/xhtml+xml"/>
<item id="c1" href="one.xhtml" media-type="application/xhtml+xml"/></manifest>
<spine><itemref idref="c1"/><itemref idref="c2"/></spine></package>""")
        archive.writestr("OEBPS/one.xhtml", """<html xmlns="http://www.w3.org/1999/xhtml"><body>
<h1>Before Your Shift</h1><p>Take a scanner with a green light.</p></body></html>""")
        archive.writestr("OEBPS/two.xhtml", """<html xmlns="http://www.w3.org/1999/xhtml"><body>
<h1>Receiving Goods</h1><p>Scan the delivery note first.</p></body></html>""")


def bomb():
    # 100 MB of zeros compresses to about 100 kB: the ratio cap must refuse it.
    with zipfile.ZipFile(os.path.join(OUT, "bomb.docx"), "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * (100 << 20))




def pdf():
    # pip install reportlab
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    document = canvas.Canvas(os.path.join(OUT, "minutes.pdf"), pagesize=A4)
    document.drawString(72, 760, "Project Harbour weekly sync")
    document.drawString(72, 730, "The Rotterdam backlog is two days behind.")
    document.showPage()
    document.drawString(72, 760, "Actions: merge the decoder fix by Thursday.")
    document.save()


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    word()
    slides()
    sheets()
    opendocument()
    presentation()
    spreadsheet()
    ebook()
    bomb()
    pdf()
