"""Reading PDFs as the customer's tools do, and serving the report assets to wkhtmltopdf."""

import http.server
import os
import subprocess
import tempfile
import threading
import urllib.request
from urllib.parse import urlsplit

from .common import pdf_to_text

# The bundles of Odoo's PDF page (web.minimal_layout), as wkhtmltopdf loads them.
PDF_BUNDLES = ("web.report_assets_pdf", "web.report_assets_common")


def pdf_fonts(content):
    """[(name, type, embedded)] of the fonts of a PDF (poppler's pdffonts)."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
        tmp.write(content)
        tmp.flush()
        out = subprocess.run(
            ["pdffonts", tmp.name], capture_output=True, text=True, check=True
        ).stdout
    fonts = []
    for line in out.splitlines()[2:]:
        cols = line.split()
        # name, type (one or two words), encoding, emb, sub, uni, object, ID
        fonts.append((cols[0], " ".join(cols[1:-6]), cols[-5] == "yes"))
    return fonts


def pdf_pages(content):
    with tempfile.NamedTemporaryFile(suffix=".pdf") as tmp:
        tmp.write(content)
        tmp.flush()
        out = subprocess.run(["pdfinfo", tmp.name], capture_output=True, text=True, check=True)
    pages = [line for line in out.stdout.splitlines() if line.startswith("Pages:")]
    return int(pages[0].split()[1])


def pdf_page_images(content, dpi=60):
    """The PNG bytes of each page of a PDF (poppler's pdftoppm), to compare what is drawn."""
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/doc.pdf"
        with open(path, "wb") as fh:
            fh.write(content)
        subprocess.run(["pdftoppm", "-r", str(dpi), "-png", path, f"{folder}/page"], check=True)
        pages = sorted(name for name in os.listdir(folder) if name.startswith("page"))
        images = []
        for name in pages:
            with open(f"{folder}/{name}", "rb") as fh:
                images.append(fh.read())
        return images


class PdfAssertions:
    """Mixin: the PDF carries real text in embedded fonts, as small as a text PDF is."""

    def assertTextPdf(self, content, *needles, max_kb_per_page=150):
        self.assertTrue(content.startswith(b"%PDF"), "a PDF, not the HTML fallback")
        fonts = pdf_fonts(content)
        self.assertTrue(fonts, "text in fonts, not glyphs drawn as outlines")
        for name, font_type, embedded in fonts:
            self.assertTrue(embedded, f"font {name} embedded")
            self.assertNotEqual(font_type, "Type 3", f"font {name} is a real font")
        text = " ".join(pdf_to_text(content).replace("\xa0", " ").split())
        for needle in needles:
            self.assertIn(needle, text)
        self.assertLessEqual(len(content), max_kb_per_page * 1024 * pdf_pages(content))
        return text


class _MirrorHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.files.get(urlsplit(self.path).path)
        if body is None:
            # Static files (fonts, images) come from Odoo's static route, which
            # needs no database cursor.
            try:
                with urllib.request.urlopen(self.server.origin + self.path, timeout=10) as resp:
                    body, ctype = resp.read(), resp.headers.get("Content-Type")
            except OSError:
                self.send_error(404)
                return
        else:
            ctype = "text/css"
        self.send_response(200)
        self.send_header("Content-Type", ctype or "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class ReportAssetMirror:
    """What a reverse proxy's cache does for wkhtmltopdf: the report's asset bundles,
    fetched over HTTP from the Odoo server beforehand, served on 127.0.0.1.

    Needed only by tests that fetch ``/report/pdf`` over HTTP: the test server
    handles one request at a time (one test cursor), so wkhtmltopdf's own requests
    for the bundles would wait behind the report request that started it.
    Set as ``report.url``, the base URL of the report's page.
    """

    def __init__(self, case):
        self.case = case

    def __enter__(self):
        files = {}
        qweb = self.case.env["ir.qweb"]
        for bundle in PDF_BUNDLES:
            for _tag, attrs in qweb._get_asset_nodes(bundle, css=True, js=False, autoprefix=True):
                href = attrs.get("href")
                if href:
                    response = self.case.url_open(href)
                    response.raise_for_status()
                    files[urlsplit(href).path] = response.content
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _MirrorHandler)
        self.server.files = files
        self.server.origin = self.case.base_url()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        ICP = self.case.env["ir.config_parameter"].sudo()
        self.previous = ICP.get_param("report.url")
        ICP.set_param("report.url", self.url)
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.case.env["ir.config_parameter"].sudo().set_param("report.url", self.previous or "")
