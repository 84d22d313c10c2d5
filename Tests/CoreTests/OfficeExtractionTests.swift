import Foundation
import Ingest
import SluiceCore
import SluiceTesting
import Testing

/// Word, PowerPoint, Excel, OpenDocument and EPUB files made with the usual libraries
/// (Scripts/generate-office-fixtures.py), read back as structured text.
@Suite struct OfficeExtractionTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    func extract(_ name: String, data: Data? = nil) async throws -> String {
        try await extractedText(name, try data ?? Data(contentsOf: Self.fixtures.appendingPathComponent(name)))
    }

    @Test func word() async throws {
        #expect(
            try await extract("agreement.docx") == """
                # Service Agreement

                Northwind Analytics GmbH provides document classification to Contoso Logistics Ltd.

                ## Fees

                - EUR 18,500 per month for up to 400,000 documents.

                - EUR 0.032 for each further document.

                Term | 24 months

                Notice | 90 days

                Signed in Hamburg.
                """)
    }

    @Test func powerPoint() async throws {
        #expect(
            try await extract("review.pptx") == """
                --- Slide 1 ---

                ## Quarterly Review

                Volumes grew 7.2 percent

                Notes: Mention the Lyon outage.

                --- Slide 2 ---

                ## Outlook

                Automated sorter in Vienna
                """)
    }

    @Test func excel() async throws {
        // Numbers as displayed: thousands separators, percentages, dates and times (in ISO order),
        // currency, a negative section, and General for unformatted cells.
        #expect(
            try await extract("volumes.xlsx") == """
                # Sheet: Hubs

                Hub | Shipments | On time | Audited

                Rotterdam | 512,000 | 95.1% | 2024-03-01

                Lyon | 318,000 | 89.3% | 2024-02-29 14:30

                # Sheet: Costs

                Item | EUR

                Energy | 41,250.50 €

                Refund | -1,200.00 €

                Ratio | 0.333333333333333
                """)
    }

    @Test func openDocumentPresentationAndSpreadsheet() async throws {
        #expect(
            try await extract("hafen.odp") == """
                --- Slide 1 ---

                ## Hafenbetrieb 2025

                Containerumschlag plus 4 Prozent

                Notes: Zahlen vom Controlling bestätigen.

                --- Slide 2 ---

                ## Nächste Schritte

                Zweiter Kran ab Mai
                """)
        #expect(
            try await extract("lager.ods") == """
                # Sheet: Lager

                Standort | Paletten

                Bremen | 1.240

                Linz | 860

                # Sheet: Personal

                Team | Köpfe

                Nacht | 14
                """)
        let blocks = TextBlock.blocks(of: try await extract("hafen.odp"), format: "odp")
        #expect(blocks.first { $0.text == "Zweiter Kran ab Mai" }?.page == 2)
    }

    @Test func openDocument() async throws {
        #expect(
            try await extract("energie.odt") == """
                # Energiebericht

                Der Stromverbrauch sank um 8 Prozent.

                - Druckluft erneuert

                - LED-Beleuchtung
                """)
    }

    @Test func epubInSpineOrder() async throws {
        #expect(
            try await extract("guide.epub")
                == "# Before Your Shift\n\nTake a scanner with a green light.\n\n# Receiving Goods\n\nScan the delivery note first."
        )
    }

    @Test func zipBombsTruncatedAndMislabelledFilesAreRefused() async throws {
        func failure(_ name: String, data: Data? = nil) async -> String {
            do {
                _ = try await extract(name, data: data)
                return "accepted"
            } catch {
                return (error as? TextExtractor.Failure)?.message ?? "\(error)"
            }
        }
        #expect(await failure("bomb.docx").contains("zip bomb"))
        let docx = try Data(contentsOf: Self.fixtures.appendingPathComponent("agreement.docx"))
        #expect(await failure("agreement.docx", data: docx.prefix(docx.count / 2)).contains("agreement.docx"))
        #expect(await failure("agreement.docx", data: Data("plain text, not a zip".utf8)).contains("not a ZIP archive"))
    }
}

/// CSV, TSV, JSON, JSON Lines and PDF.
@Suite struct DataExtractionTests {
    func extract(_ name: String, _ data: Data) async throws -> String { try await extractedText(name, data) }

    @Test func delimitedRows() async throws {
        let csv =
            "hub,shipments,note\r\nRotterdam,512000,\"largest, by far\"\r\nLyon,318000,\"said \"\"outage\"\"\"\r\n"
        #expect(
            try await extract("hubs.csv", Data(csv.utf8))
                == "hub | shipments | note\n\nRotterdam | 512000 | largest, by far\n\nLyon | 318000 | said \"outage\"")
        #expect(try await extract("hubs.tsv", Data("a\tb\n1\t2\n".utf8)) == "a | b\n\n1 | 2")
    }

    @Test func jsonAsKeyValueLines() async throws {
        let json = #"{"title": "Q4", "hubs": [{"name": "Lyon", "late": true}], "total": 1.84, "note": null}"#
        #expect(
            try await extract("report.json", Data(json.utf8))
                == "hubs[0].late: true\nhubs[0].name: Lyon\nnote: null\ntitle: Q4\ntotal: 1.84")
        #expect(try await extract("events.jsonl", Data("{\"a\": 1}\n\n{\"a\": 2}\n".utf8)) == "a: 1\n\na: 2")
        await #expect(throws: TextExtractor.Failure.self) {
            try await extract("bad.jsonl", Data("{\"a\": 1}\n{oops\n".utf8))
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/pdftotext")))
    func pdfPagesInReadingOrder() async throws {
        let file = OfficeExtractionTests.fixtures.appendingPathComponent("minutes.pdf")
        #expect(
            try await extract("minutes.pdf", Data(contentsOf: file)) == """
                --- Page 1 ---

                Project Harbour weekly sync The Rotterdam backlog is two days behind.

                --- Page 2 ---

                Actions: merge the decoder fix by Thursday.
                """)
        await #expect(throws: TextExtractor.Failure.self) { try await extract("fake.pdf", Data("not a pdf".utf8)) }
    }
}
