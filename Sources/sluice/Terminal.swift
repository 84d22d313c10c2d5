import Foundation

/// Human output goes to stderr; stdout carries data only.
enum Terminal {
    static func status(_ line: String) {
        FileHandle.standardError.write(Data(("sluice: " + line + "\n").utf8))
    }

    static func warning(_ line: String) {
        FileHandle.standardError.write(Data(("sluice: warning: " + line + "\n").utf8))
    }

    static func error(_ line: String) {
        FileHandle.standardError.write(Data(("sluice: error: " + line + "\n").utf8))
    }
}
