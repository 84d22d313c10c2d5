import Foundation
import Ingest
import SluiceCore
import SluiceTesting

/// Extracts a document the way the ingest stage does: written to a file, hashed, then read back.
func extractedText(_ name: String, _ data: Data) async throws -> String {
    let directory = try TemporaryDirectory()
    let file = try directory.write(name, data)
    let (sha, _) = try TextExtractor.hash(file: file)
    let input = IngestInput(
        document: DocumentRef(path: name, sha256: sha, size: Int64(data.count), mtime: 0), file: file)
    return TextBlock.text(of: try await TextExtractor.extract(input).blocks)
}
