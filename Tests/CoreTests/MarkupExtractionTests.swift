import Foundation
import Ingest
import SluiceCore
import SluiceTesting
import Testing

/// HTML and XML through libxml2: structure kept, markup and scripts dropped, hostile input harmless.
@Suite struct MarkupExtractionTests {
    func extract(_ name: String, _ data: Data) async throws -> String { try await extractedText(name, data) }

    @Test func htmlKeepsStructureAndDropsEverythingElse() async throws {
        let html = """
            <!DOCTYPE html><html><head><title>Ignored title</title><style>p { color: red }</style>
            <script>alert("no")</script></head><body>
            <nav><a href="/">Home</a> | <a href="/about">About</a></nav>
            <h1>Quarterly  Report</h1>
            <p>Revenue rose by 7&nbsp;% &amp; costs fell.</p>
            <h2>Volumes</h2>
            <ul><li>Rotterdam: 512,000</li><li>Hamburg: 401,000</li></ul>
            <table><tr><th>Hub</th><th>On time</th></tr><tr><td>Lyon</td><td>89.3%</td></tr></table>
            <pre>line one
              line two</pre>
            <template><p>hidden template</p></template><noscript>enable JavaScript</noscript>
            </body></html>
            """
        let text = try await extract("report.html", Data(html.utf8))
        #expect(
            text == """
                # Quarterly Report

                Revenue rose by 7\u{A0}% & costs fell.

                ## Volumes

                - Rotterdam: 512,000

                - Hamburg: 401,000

                Hub | On time

                Lyon | 89.3%

                line one
                  line two
                """)
        for unwanted in ["alert", "color", "Home", "Ignored", "hidden template", "JavaScript"] {
            #expect(!text.contains(unwanted), "\(unwanted)")
        }
    }

    @Test func htmlHonoursTheDeclaredCharset() async throws {
        var bytes = Array(#"<html><head><meta charset="windows-1252"></head><body><p>Gr"#.utf8)
        bytes += [0xFC, 0xDF, 0x65]  // üße in Windows-1252
        bytes += Array("</p></body></html>".utf8)
        #expect(try await extract("legacy.htm", Data(bytes)) == "Grüße")
    }

    @Test func xmlExternalEntitiesAreNeverLoaded() async throws {
        let xml = """
            <?xml version="1.0"?>
            <!DOCTYPE note [<!ENTITY secret SYSTEM "file:///etc/passwd"><!ENTITY lol "lol">
            <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
            <note><to>Ops</to><body>Before &secret; after &lol2;</body></note>
            """
        let text = try await extract("note.xml", Data(xml.utf8))
        #expect(!text.contains("root:"))
        #expect(text.contains("Ops") && text.contains("Before") && text.contains("after"))
        #expect(!text.contains("lollollol"))
    }

    @Test func docBookSectionsBecomeHeadings() async throws {
        let xml = """
            <book xmlns="http://docbook.org/ns/docbook"><chapter><title>Installation</title>
            <para>Run the installer.</para><itemizedlist><listitem><para>Linux</para></listitem></itemizedlist>
            </chapter></book>
            """
        #expect(try await extract("guide.xml", Data(xml.utf8)) == "# Installation\n\nRun the installer.\n\n- Linux")
    }

    @Test func malformedXMLNamesTheFile() async throws {
        await #expect {
            try await extract("broken.xml", Data("<a><b></a>".utf8))
        } throws: { error in
            (error as? TextExtractor.Failure)?.message.contains("broken.xml: malformed XML") == true
        }
    }
}
