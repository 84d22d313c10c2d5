import Testing

@testable import Ingest

/// Spreadsheet format codes applied to stored numbers.
@Suite struct NumberFormatTests {
    @Test(arguments: [
        ("0.00", "3.14159", "3.14"),
        ("#,##0", "1234567.8", "1,234,568"),
        ("0%", "0.256", "26%"),
        ("0.00E+00", "12345", "1.23E+04"),
        ("\"USD \"#,##0.00", "1500", "USD 1,500.00"),
        ("#,##0.00;(#,##0.00)", "-42.5", "(42.50)"),
        ("[Red]0.0", "7.25", "7.3"),
        ("yyyy-mm-dd", "45292", "2024-01-01"),
        ("d/m/yy h:mm", "45292.75", "2024-01-01 18:00"),
        ("h:mm:ss", "0.5", "12:00:00"),
        ("[h]:mm", "1.5", "36:00"),
        ("General", "0.1", "0.1"),
        ("@", "00123", "00123"),
    ])
    func displays(code: String, value: String, shown: String) {
        #expect(NumberFormat(code: code).display(value) == shown)
    }

    @Test func the1904DateSystemAndExcelsPhantomLeapDay() {
        #expect(NumberFormat(code: "yyyy-mm-dd").display("0", date1904: true) == "1904-01-01")
        #expect(NumberFormat(code: "yyyy-mm-dd").display("59") == "1900-02-28")
        #expect(NumberFormat(code: "yyyy-mm-dd").display("61") == "1900-03-01")
        #expect(NumberFormat(code: "0.00").display("not a number") == "not a number")
    }
}
