import Foundation
import Pipeline
import SluiceCore
import SluiceTesting
import Testing

@Suite struct StructuredOutputTests {
    static let schema = """
        {"type": "object",
         "properties": {
           "title": {"type": "string", "minLength": 1},
           "label": {"enum": ["contract", "report"]},
           "confidence": {"type": "number", "minimum": 0, "maximum": 1},
           "count": {"type": "integer"},
           "parties": {"type": "array", "maxItems": 2,
                       "items": {"$ref": "#/$defs/party"}},
           "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}
         },
         "required": ["title", "label", "confidence", "parties"],
         "additionalProperties": false,
         "$defs": {"party": {"type": "object", "properties": {"name": {"type": "string"}},
                             "required": ["name"], "additionalProperties": false}}}
        """

    func problems(_ json: String) throws -> [String] {
        try JSONSchema(text: Self.schema).problems(try JSONValue.parse(json))
    }

    @Test func validRepliesPass() throws {
        #expect(
            try problems(
                #"{"title":"A","label":"report","confidence":1,"count":3,"parties":[{"name":"X"}],"note":null}"#
            )
            .isEmpty)
        #expect(try problems(#"{"title":"A","label":"contract","confidence":0.5,"parties":[]}"#).isEmpty)
    }

    @Test(arguments: [
        (#"{"label":"report","confidence":0.5,"parties":[]}"#, "$: the required field 'title' is missing"),
        (#"{"title":"A","label":"memo","confidence":0.5,"parties":[]}"#, "$.label: \"memo\" is not one of"),
        (#"{"title":"A","label":"report","confidence":"high","parties":[]}"#, "$.confidence: expected number"),
        (#"{"title":"A","label":"report","confidence":1.5,"parties":[]}"#, "above the maximum 1"),
        (#"{"title":"A","label":"report","confidence":1,"count":1.5,"parties":[]}"#, "$.count: expected integer"),
        (
            #"{"title":"A","label":"report","confidence":1,"parties":[{"name":7}]}"#,
            "$.parties[0].name: expected string"
        ),
        (#"{"title":"A","label":"report","confidence":1,"parties":[{}]}"#, "$.parties[0]: the required field 'name'"),
        (
            #"{"title":"A","label":"report","confidence":1,"parties":[],"extra":1}"#,
            "the field 'extra' is not in the schema"
        ),
        (#"{"title":"","label":"report","confidence":1,"parties":[]}"#, "at least 1 required"),
        (
            #"{"title":"A","label":"report","confidence":1,"parties":[{"name":"a"},{"name":"b"},{"name":"c"}]}"#,
            "at most 2 allowed"
        ),
        (#"{"title":"A","label":"report","confidence":1,"parties":[],"note":3}"#, "anyOf"),
        (#"{"title":"A","label":"report","confidence":true,"parties":[]}"#, "expected number, got boolean"),
    ])
    func invalidRepliesSayWhereAndWhy(_ json: String, _ expected: String) throws {
        let found = try problems(json)
        #expect(found.contains { $0.contains(expected) }, "\(found)")
    }

    @Test func schemasThatCannotBeCheckedAreRefused() {
        for (schema, fragment) in [
            (#"{"type":"object","oneOf":[{"type":"string"}]}"#, "'oneOf'"),
            (#"{"type":"strin"}"#, "not a JSON type"),
            (##"{"$ref":"#/$defs/missing"}"##, "points nowhere"),
            (#"{"type":"string","pattern":"("}"#, "not a regular expression"),
            (#"{"type": "object", "properties": "#, "not JSON"),
        ] {
            #expect {
                _ = try JSONSchema(text: schema)
            } throws: { error in
                ((error as? SluiceError)?.message ?? "").contains(fragment)
            }
        }
    }

    @Test func pipelineFilesReadResponseFormatsAndReduceSteps() throws {
        let directory = try TemporaryDirectory()
        try directory.write(
            "schemas/facts.json",
            #"{"type":"object","properties":{"b":{"type":"string"},"a":{"type":"integer"}},"required":["b","a"]}"#)
        let base = """
            model: gpt-4o-mini
            max_tokens: 100
            messages: [{role: user, content: "{{chunk.text}}"}]

            """
        let fromFile = try PipelineFile.parse(
            base
                + "response_format: {type: json_schema, name: facts, schema_file: schemas/facts.json}\noutput_retries: 3\n",
            file: directory.file("p.yaml"), defaultName: "p")
        guard case .jsonSchema(let name, let text, let strict)? = fromFile.responseFormat else {
            Issue.record("no schema")
            return
        }
        // The schema's property order is kept: the model fills fields in that order.
        #expect(
            name == "facts" && strict
                && text.range(of: "\"b\"")?.lowerBound ?? text.endIndex < text.range(of: "\"a\"")?.lowerBound
                    ?? text.startIndex
        )
        #expect(fromFile.invalidOutputRetries == 3)
        let inline = try PipelineFile.parse(
            base + """
                response_format:
                  type: json_schema
                  schema:
                    type: object
                    properties: {label: {type: string, enum: [a, b]}, score: {type: number}}
                reduce:
                  max_tokens: 50
                  max_input_tokens: 2000
                  messages: [{role: user, content: "{{#results}}{{text}}{{/results}}"}]
                """, file: "inline.yaml", defaultName: "inline")
        #expect(inline.reduce?.maxTokens == 50 && inline.reduce?.maxInputTokens == 2_000)
        if case .jsonSchema(_, let schema, _)? = inline.responseFormat {
            #expect(try JSONSchema(text: schema).problems(try JSONValue.parse(#"{"label":"c","score":1}"#)).count == 1)
        } else {
            Issue.record("no inline schema")
        }
        #expect(
            try PipelineFile.parse(base + "response_format: json_object\n", file: "o.yaml", defaultName: "o")
                .responseFormat == .jsonObject)

        for (yaml, fragment) in [
            (
                "response_format: {type: json_schema, schema_file: missing.json}\n",
                "p.yaml:4: field 'response_format.schema_file' names"
            ),
            ("response_format: {type: json_schema}\n", "needs 'schema'"),
            ("response_format: {type: xml}\n", "field 'response_format.type' must be"),
            ("response_format: {type: json_schema, schema: {type: object, not: {}}}\n", "'not'"),
            ("output_retries: 2\n", "needs a response_format"),
            ("reduce: {messages: [{role: user, content: x}]}\n", "reduce.max_tokens' is required"),
            ("reduce: {max_tokens: 10, messages: []}\n", "reduce.messages"),
        ] {
            #expect {
                _ = try PipelineFile.parse(base + yaml, file: directory.file("p.yaml"), defaultName: "p")
            } throws: { error in
                let message = (error as? SluiceError)?.message ?? ""
                return message.contains(fragment) && message.contains("p.yaml")
            }
        }
    }

    @Test func theCatalogChecksAPipelineBeforeAnythingIsEnqueued() throws {
        // gpt-35-turbo has 16,385 tokens of context: a 16,000-token chunk and 1,000 of output cannot fit.
        #expect {
            _ = try PipelineFile.parse(
                """
                model: gpt-35-turbo
                max_tokens: 1000
                chunking: {max_tokens: 16000}
                messages: [{role: system, content: "Summarize."}, {role: user, content: "{{chunk.text}}"}]
                """, file: "big.yaml", defaultName: "big")
        } throws: { error in
            let message = (error as? SluiceError)?.message ?? ""
            return message.contains("big.yaml") && message.contains("context of 16385")
                && message.range(of: #"= 1\d{4}, \d+ tokens over"#, options: .regularExpression) != nil
        }
        #expect(throws: SluiceError.self) {
            _ = try PipelineFile.parse(
                "model: o3-mini\nmax_tokens: 100\nmessages: [{role: user, content: x}]", file: "o.yaml",
                defaultName: "o")
        }
        #expect(throws: SluiceError.self) {
            _ = try PipelineFile.parse(
                "model: gpt-4o\nmax_tokens: 20000\nmessages: [{role: user, content: x}]", file: "o.yaml",
                defaultName: "o")
        }
    }
}
