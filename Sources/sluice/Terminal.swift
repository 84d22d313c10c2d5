import Foundation
import SluiceCore

/// Human output goes to stderr; stdout carries data only.
enum Terminal {
    static func status(_ line: String) {
        FileHandle.standardError.write(Data(("sluice: " + Printable.escaped(line) + "\n").utf8))
    }

    static func warning(_ line: String) {
        FileHandle.standardError.write(Data(("sluice: warning: " + Printable.escaped(line) + "\n").utf8))
    }

    static func error(_ line: String) {
        FileHandle.standardError.write(Data(("sluice: error: " + Printable.escaped(line) + "\n").utf8))
    }
}
