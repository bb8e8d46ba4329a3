# LibreOffice driver for tests/libreoffice.rs.
#
# soffice runs it in-process, as a Python macro from a throw-away user profile:
#   soffice --headless 'vnd.sun.star.script:hardmatch_driver.py$run?language=Python&location=user'
# so one soffice start does every job and nothing has to wait for a UNO socket to come up.
# The jobs come from the JSON file named by HARDMATCH_LO_JOBS; the results go to the JSON file
# named by HARDMATCH_LO_RESULTS, written once every job has run. soffice is told to quit at
# the end whatever happens.
#
# Every document is loaded with an interaction handler that records each question LibreOffice
# would have asked a person (a repair offer, an import warning, a password prompt...), so the
# tests can assert there were none.

import json
import os
import traceback

import uno
import unohelper
from com.sun.star.task import XInteractionHandler


def prop(name, value):
    p = uno.createUnoStruct("com.sun.star.beans.PropertyValue")
    p.Name = name
    p.Value = value
    return p


class Recorder(unohelper.Base, XInteractionHandler):
    """Records every interaction request; answers with Approve when offered, else Abort.

    LibreOffice calls this only when it would ask a person something or warn them, so a call
    at all is what the tests look for. The request's details are recorded when they can be:
    the PyUNO of LibreOffice 7.x cannot turn a request that is a UNO exception into a Python
    object under Python 3.11 or newer ("AttributeError: args"), so then only that is noted.
    """

    def __init__(self):
        self.requests = []

    def handle(self, request):
        entry = {}
        try:
            req = request.getRequest()
            entry["type"] = type(req).__name__
            for attr in ("Message", "ErrCode", "Classification"):
                value = getattr(req, attr, None)
                if value is not None:
                    entry[attr] = value if isinstance(value, (int, str)) else str(value)
        except Exception as e:  # noqa: BLE001 - see the class comment
            entry["type"] = "(request not readable here: %s)" % e
        try:
            entry["continuations"] = [
                t.typeName.rsplit(".", 1)[-1]
                for cont in request.getContinuations()
                for t in cont.getTypes()
                if t.typeName.startswith("com.sun.star.task.XInteraction")
            ]
        except Exception as e:  # noqa: BLE001
            entry["continuations"] = ["(not readable: %s)" % e]
        self.requests.append(entry)
        self.answer(request)

    @staticmethod
    def answer(request):
        for wanted in ("XInteractionApprove", "XInteractionAbort"):
            for cont in request.getContinuations():
                if any(t.typeName.endswith(wanted) for t in cont.getTypes()):
                    cont.select()
                    return


def url(path):
    return unohelper.systemPathToFileUrl(os.path.abspath(path))


def load(desktop, path, must_load=True):
    recorder = Recorder()
    try:
        doc = desktop.loadComponentFromURL(
            url(path),
            "_blank",
            0,
            (prop("Hidden", True), prop("InteractionHandler", recorder)),
        )
    except Exception:  # noqa: BLE001 - a file LibreOffice refuses is reported, not raised
        doc = None
    if doc is None and must_load:
        raise RuntimeError(
            "LibreOffice could not open %s; it asked: %s" % (path, recorder.requests)
        )
    return doc, recorder


def used_area(sheet):
    cursor = sheet.createCursor()
    cursor.gotoEndOfUsedArea(False)
    addr = cursor.getRangeAddress()
    return addr.EndRow, addr.EndColumn


def chart_info(sheet):
    charts = []
    for name in sheet.getCharts().getElementNames():
        embedded = sheet.getCharts().getByName(name).getEmbeddedObject()
        data = embedded.getData()
        title = ""
        if embedded.HasMainTitle:
            title = embedded.getTitle().String
        charts.append(
            {
                "title": title,
                "diagram": embedded.getDiagram().getDiagramType(),
                "categories": list(data.getRowDescriptions()),
                "values": [list(row) for row in data.getData()],
            }
        )
    return charts


def page_setup(doc, sheet):
    style = doc.getStyleFamilies().getByName("PageStyles").getByName(sheet.PageStyle)

    def text_of(content):
        return " | ".join(
            part.getString()
            for part in (content.LeftText, content.CenterText, content.RightText)
        )

    return {
        "landscape": bool(style.IsLandscape),
        "scale_to_pages_x": style.ScaleToPagesX,
        "scale_to_pages_y": style.ScaleToPagesY,
        "header": text_of(style.RightPageHeaderContent) if style.HeaderIsOn else "",
        "footer": text_of(style.RightPageFooterContent) if style.FooterIsOn else "",
        "print_areas": [
            [a.StartColumn, a.StartRow, a.EndColumn, a.EndRow] for a in sheet.getPrintAreas()
        ],
        "repeat_header_rows": bool(sheet.PrintTitleRows),
    }


def inspect(desktop, job):
    doc, recorder = load(desktop, job["input"], must_load=False)
    if doc is None:
        return {"loaded": False, "interactions": recorder.requests}
    try:
        sheets = []
        for i in range(doc.Sheets.Count):
            sheet = doc.Sheets.getByIndex(i)
            sheets.append(
                {
                    "name": sheet.Name,
                    "charts": chart_info(sheet),
                    "page": page_setup(doc, sheet),
                    "protected": bool(sheet.isProtected()),
                }
            )
        return {"loaded": True, "interactions": recorder.requests, "sheets": sheets}
    finally:
        doc.close(True)


def review(desktop, job):
    """What a change board does: unprotect, approve some rows, comment, sort, protect, save."""
    doc, recorder = load(desktop, job["input"])
    try:
        sheet = doc.Sheets.getByName(job["sheet"])
        sheet.unprotect("")
        last_row, last_col = used_area(sheet)
        header = {}
        for c in range(last_col + 1):
            text = sheet.getCellByPosition(c, 0).getString()
            if text:
                header[text] = c
        row_of = {}
        for r in range(1, last_row + 1):
            cell = sheet.getCellByPosition(header["Row id"], r)
            if cell.getString():
                row_of[int(cell.getValue())] = r
        for column, values in job["set"].items():
            for row_id, value in values.items():
                sheet.getCellByPosition(header[column], row_of[int(row_id)]).setString(value)

        field = uno.createUnoStruct("com.sun.star.table.TableSortField")
        field.Field = header[job["sort_by"]]
        field.IsAscending = not job["descending"]
        field.IsCaseSensitive = False
        rng = sheet.getCellRangeByPosition(0, 0, last_col, last_row)
        descriptor = list(rng.createSortDescriptor())
        for p in descriptor:
            if p.Name == "SortFields":
                p.Value = uno.Any("[]com.sun.star.table.TableSortField", (field,))
            elif p.Name == "ContainsHeader":
                p.Value = True
        uno.invoke(rng, "sort", (tuple(descriptor),))
        sheet.protect("")

        doc.storeToURL(
            url(job["output"]),
            (prop("FilterName", "Calc MS Excel 2007 XML"), prop("Overwrite", True)),
        )
        return {"interactions": recorder.requests}
    finally:
        doc.close(True)


def type_into(doc, sheet, cell, value):
    controller = doc.getCurrentController()
    controller.setActiveSheet(sheet)
    controller.select(cell)
    dispatcher = XSCRIPTCONTEXT.getComponentContext().ServiceManager.createInstanceWithContext(
        "com.sun.star.frame.DispatchHelper", XSCRIPTCONTEXT.getComponentContext()
    )
    dispatcher.executeDispatch(
        controller.getFrame(), ".uno:EnterString", "", 0, (prop("StringName", value),)
    )


def fill(desktop, job):
    """What an admin does with a blank template: type users in, as at the keyboard.

    Through the dispatcher's EnterString, the path of the input line: Calc parses the input by
    the cell's format, so a GUID of digits only becomes a number in a General cell and stays
    text only in a Text one. (The API's setFormula ignores a Text format, which typing does not.)
    """
    doc, recorder = load(desktop, job["input"])
    try:
        sheet = doc.Sheets.getByName(job["sheet"])
        header = {}
        for c in range(20):
            text = sheet.getCellByPosition(c, 0).getString()
            if text:
                header[text] = c
        formats = {}
        for i, row in enumerate(job["rows"]):
            for column, value in row.items():
                cell = sheet.getCellByPosition(header[column], i + 1)
                key = cell.NumberFormat
                formats[column] = doc.NumberFormats.getByKey(key).FormatString
                type_into(doc, sheet, cell, value)
        doc.storeToURL(
            url(job["output"]),
            (prop("FilterName", "Calc MS Excel 2007 XML"), prop("Overwrite", True)),
        )
        return {"interactions": recorder.requests, "formats": formats}
    finally:
        doc.close(True)


def pdf(desktop, job):
    doc, recorder = load(desktop, job["input"])
    try:
        doc.storeToURL(
            url(job["output"]),
            (prop("FilterName", "calc_pdf_Export"), prop("Overwrite", True)),
        )
        return {"interactions": recorder.requests}
    finally:
        doc.close(True)


OPS = {"inspect": inspect, "review": review, "fill": fill, "pdf": pdf}


def run(*_args):
    desktop = XSCRIPTCONTEXT.getDesktop()
    results = {}
    try:
        with open(os.environ["HARDMATCH_LO_JOBS"], encoding="utf-8") as f:
            jobs = json.load(f)
        for job in jobs:
            try:
                results[job["id"]] = {"ok": True, **OPS[job["op"]](desktop, job)}
            except Exception:
                results[job["id"]] = {"ok": False, "error": traceback.format_exc()}
    except Exception:
        results["(driver)"] = {"ok": False, "error": traceback.format_exc()}
    finally:
        try:
            tmp = os.environ["HARDMATCH_LO_RESULTS"] + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(results, f, indent=1)
            os.replace(tmp, os.environ["HARDMATCH_LO_RESULTS"])
        finally:
            desktop.terminate()


g_exportedScripts = (run,)
