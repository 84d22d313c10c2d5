import Foundation
import SluiceCore

/// Finds the documents under a root directory.
///
/// Walks recursively in sorted order; follows symbolic links that stay inside the root (one whose
/// target lies outside is skipped with the reason, unless asked to follow it) but never enters a
/// directory twice (a link loop is reported as skipped); skips hidden files and folders unless asked;
/// never opens FIFOs, sockets or devices; applies include and exclude globs to paths relative to the
/// root.
package struct DirectoryWalker: Sendable {
    /// A file to ingest.
    package struct Entry: Sendable, Hashable {
        /// Path relative to the root, `/`-separated.
        package var path: String
        /// Absolute path.
        package var file: String
        /// Size in bytes.
        package var size: Int64
        /// The later of the modification and the status change time (seconds since 1970): a file
        /// whose size and stamp are unchanged keeps its recorded hash.
        package var mtime: Double
    }

    /// Globs a file's relative path must match (empty: every supported format).
    package var include: [Glob]
    /// Globs that leave a file out.
    package var exclude: [Glob]
    /// Whether hidden files and folders are walked.
    package var hidden: Bool
    /// Extensions (lowercase, without dot) that have an extractor.
    package var formats: Set<String>
    /// Files larger than this are skipped.
    package var maxFileSize: Int64
    /// Follow symbolic links whose target lies outside the root.
    package var followsExternalLinks: Bool

    /// Creates it from its fields.
    package init(
        include: [String] = [], exclude: [String] = [], hidden: Bool = false,
        formats: Set<String> = TextExtractor.formats, maxFileSize: Int64 = 256 << 20, followsExternalLinks: Bool = false
    ) {
        self.include = include.map(Glob.init)
        self.exclude = exclude.map(Glob.init)
        self.hidden = hidden
        self.formats = formats
        self.maxFileSize = maxFileSize
        self.followsExternalLinks = followsExternalLinks
    }

    /// The walker a pipeline's file selection describes.
    package init(_ selection: PipelineDefinition.Selection) {
        self.init(
            include: selection.include, exclude: selection.exclude, hidden: selection.hidden,
            maxFileSize: selection.maxFileSize, followsExternalLinks: selection.followsExternalLinks)
    }

    /// A root as runs record it: absolute, standardized, symbolic links resolved.
    package static func absolute(_ root: String) -> String {
        URL(fileURLWithPath: root).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// Walks `root`.
    ///
    /// - Throws: ``SluiceError`` when the root itself is missing or not a directory.
    package func walk(root: String) throws -> (files: [Entry], skipped: [SkippedFile]) {
        var info = stat()
        guard stat(root, &info) == 0 else {
            throw SluiceError(.notFound, "\(root): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw SluiceError(.invalidConfiguration, "\(root): not a directory")
        }
        var files: [Entry] = []
        var skipped: [SkippedFile] = []
        var visited: Set<FileIdentity> = [FileIdentity(info)]
        let inside = Self.realPath(root).map { $0 == "/" ? $0 : $0 + "/" }
        visit(directory: root, relative: "", inside: inside, files: &files, skipped: &skipped, visited: &visited)
        return (files, skipped)
    }

    /// The path with every symbolic link resolved, nil when it cannot be.
    package static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The entries of a folder (without `.` and `..`), sorted; names that are not valid UTF-8 apart.
    static func list(_ directory: String) throws(SluiceError) -> (names: [String], undecodable: [[UInt8]]) {
        guard let handle = opendir(directory) else {
            throw SluiceError(.io, "cannot list the folder: \(String(cString: strerror(errno)))")
        }
        defer { closedir(handle) }
        var names: [String] = []
        var undecodable: [[UInt8]] = []
        while let entry = readdir(handle) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
            if let name = String(validating: bytes, as: UTF8.self) {
                names.append(name)
            } else {
                undecodable.append(bytes)
            }
        }
        return (names.sorted(), undecodable)
    }

    /// A byte string for messages: valid UTF-8 as is, other bytes as `\xHH`.
    static func escaped(_ bytes: [UInt8]) -> String {
        var text = ""
        var index = 0
        while index < bytes.count {
            var length = 1
            while length <= 4 && index + length <= bytes.count {
                if let piece = String(validating: bytes[index..<(index + length)], as: UTF8.self) {
                    text += piece
                    break
                }
                length += 1
            }
            if length > 4 || index + length > bytes.count {
                text += String(format: "\\x%02X", bytes[index])
                length = 1
            }
            index += length
        }
        return text
    }

    private struct FileIdentity: Hashable {
        let device: UInt64
        let inode: UInt64
        init(_ info: stat) {
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
        }
    }

    /// - Parameter inside: The root's real path with a trailing `/`: a link must resolve below it.
    private func visit(
        directory: String, relative: String, inside: String?, files: inout [Entry], skipped: inout [SkippedFile],
        visited: inout Set<FileIdentity>
    ) {
        let names: [String]
        do {
            let listing = try Self.list(directory)
            names = listing.names
            for bytes in listing.undecodable {
                let shown = Self.escaped(bytes)
                skipped.append(
                    SkippedFile(
                        path: relative.isEmpty ? shown : relative + "/" + shown,
                        reason:
                            "the file name is not valid UTF-8, so results could not name it; rename it (e.g. with convmv)"
                    ))
            }
        } catch {
            skipped.append(SkippedFile(path: relative.isEmpty ? "." : relative, reason: error.message))
            return
        }
        for name in names {
            if !hidden && name.hasPrefix(".") { continue }
            let path = relative.isEmpty ? name : relative + "/" + name
            let file = directory + "/" + name
            var info = stat()
            guard stat(file, &info) == 0 else {
                var link = stat()
                let reason =
                    lstat(file, &link) == 0 && link.st_mode & S_IFMT == S_IFLNK
                    ? "broken or looping symbolic link" : String(cString: strerror(errno))
                skipped.append(SkippedFile(path: path, reason: reason))
                continue
            }
            if !followsExternalLinks, let inside {
                var link = stat()
                if lstat(file, &link) == 0, link.st_mode & S_IFMT == S_IFLNK {
                    let target = Self.realPath(file) ?? "?"
                    if !(target + "/").hasPrefix(inside) {
                        skipped.append(
                            SkippedFile(
                                path: path,
                                reason:
                                    "symbolic link to \(target), outside the folder (--follow-external-links reads it)"
                            ))
                        continue
                    }
                }
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                let identity = FileIdentity(info)
                guard visited.insert(identity).inserted else {
                    skipped.append(SkippedFile(path: path, reason: "symbolic link loop: folder already visited"))
                    continue
                }
                visit(
                    directory: file, relative: path, inside: inside, files: &files, skipped: &skipped, visited: &visited
                )
            case S_IFREG:
                if !include.isEmpty && !include.contains(where: { $0.matches(path) }) { continue }
                if exclude.contains(where: { $0.matches(path) }) { continue }
                let format = (name as NSString).pathExtension.lowercased()
                guard formats.contains(format) else {
                    skipped.append(
                        SkippedFile(
                            path: path, reason: format.isEmpty ? "no file extension" : "unsupported format .\(format)"))
                    continue
                }
                guard Int64(info.st_size) <= maxFileSize else {
                    skipped.append(SkippedFile(path: path, reason: "larger than the size cap of \(maxFileSize) bytes"))
                    continue
                }
                // The later of the modification and the status change: an edit that puts the
                // modification time back (`touch -r`) still changes the status change time.
                let mtime = Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9
                let ctime = Double(info.st_ctim.tv_sec) + Double(info.st_ctim.tv_nsec) / 1e9
                files.append(Entry(path: path, file: file, size: Int64(info.st_size), mtime: max(mtime, ctime)))
            default:
                skipped.append(SkippedFile(path: path, reason: "not a regular file (FIFO, socket or device)"))
            }
        }
    }
}
