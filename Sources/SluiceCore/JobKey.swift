/// Job keys: a job's identity within its run and stage.
///
/// Every key starts with the pipeline hash, so a changed prompt, model or parameter creates new
/// work; then the document path and content hash, so a changed file does too; chunk jobs add the
/// chunk index.
public enum JobKey {
    /// The key of a document version's ingest and chunk jobs.
    public static func document(_ document: DocumentRef, pipelineHash: String) -> String {
        "\(pipelineHash.prefix(16))/\(document.path)@\(document.sha256)"
    }

    /// The key of a chunk's prompt, call and collect jobs.
    public static func chunk(_ document: DocumentRef, pipelineHash: String, index: Int) -> String {
        self.document(document, pipelineHash: pipelineHash) + "#\(index)"
    }

    /// Keys of reduce calls start with this, so they sort (and are counted) apart from chunk calls.
    public static let reduceCallPrefix = "~reduce/"

    /// The key of a document's reduce job at a level (stage reduce).
    public static func reduce(_ document: DocumentRef, pipelineHash: String, level: Int) -> String {
        self.document(document, pipelineHash: pipelineHash) + "#reduce\(level)"
    }

    /// The key of one reduce call (stage call): a level's group.
    public static func reduceCall(_ document: DocumentRef, pipelineHash: String, level: Int, group: Int) -> String {
        reduceCallPrefix + self.document(document, pipelineHash: pipelineHash) + "#\(level).\(group)"
    }
}
