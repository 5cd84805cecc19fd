import CYAML

/// A YAML document as libyaml's loader composes it (Debian's libyaml, the C library under most
/// YAML packages; linked like SQLite, so it costs no Swift build time): scalars, mappings in
/// their order (a repeated key kept, for the caller to judge) and sequences, each with the line
/// it starts on, so that a configuration error can name its line. Aliases come back as the node
/// they name.
struct YAMLNode {
    enum Kind {
        /// The text, and whether it was plain (unquoted, not a block): only a plain scalar is
        /// read as a number, a boolean or null.
        case scalar(String, plain: Bool)
        case mapping([(key: YAMLNode, value: YAMLNode)])
        case sequence([YAMLNode])
    }

    var kind: Kind
    /// 1-based, as editors count.
    var line: Int

    var string: String? {
        if case .scalar(let s, _) = kind { return s }
        return nil
    }
    var mapping: [(key: YAMLNode, value: YAMLNode)]? {
        if case .mapping(let pairs) = kind { return pairs }
        return nil
    }
    var sequence: [YAMLNode]? {
        if case .sequence(let items) = kind { return items }
        return nil
    }
    var isPlainScalar: Bool {
        if case .scalar(_, let plain) = kind { return plain }
        return false
    }

    /// What libyaml could not read: its own words and the line (1-based; 0 when it gave none).
    struct SyntaxError: Error {
        var problem: String
        var line: Int
    }

    /// The document in `text`, or nil for a stream with no document (empty, or comments only).
    /// - Throws: `SyntaxError` for text that is not YAML, or that holds more than one document.
    static func parse(_ text: String) throws(SyntaxError) -> YAMLNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else { throw SyntaxError(problem: "out of memory", line: 0) }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buffer throws(SyntaxError) -> YAMLNode? in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            let first = try load(&parser)
            if first.root != nil, case let second = try load(&parser), second.root != nil {
                throw SyntaxError(problem: "expected one document, found a second one", line: second.line)
            }
            return first.root
        }
    }

    /// The next document's root (nil at the end of the stream) and the line the document starts on.
    private static func load(_ parser: inout yaml_parser_t) throws(SyntaxError) -> (root: YAMLNode?, line: Int) {
        var document = yaml_document_t()
        guard yaml_parser_load(&parser, &document) == 1 else {
            let problem = parser.problem.map { String(cString: $0) } ?? "unreadable"
            let context = parser.context.map { String(cString: $0) }
            throw SyntaxError(problem: context.map { "\(problem) \($0)" } ?? problem,
                              line: parser.problem_mark.line + 1)
        }
        defer { yaml_document_delete(&document) }
        let line = Int(document.start_mark.line) + 1
        guard let root = yaml_document_get_root_node(&document) else { return (nil, line) }
        return (node(root, in: &document), line)
    }

    private static func node(_ n: UnsafeMutablePointer<yaml_node_t>, in document: inout yaml_document_t) -> YAMLNode {
        let line = Int(n.pointee.start_mark.line) + 1
        switch n.pointee.type {
        case YAML_SCALAR_NODE:
            let s = n.pointee.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
            return YAMLNode(kind: .scalar(text, plain: s.style == YAML_PLAIN_SCALAR_STYLE), line: line)
        case YAML_SEQUENCE_NODE:
            var items: [YAMLNode] = []
            var item = n.pointee.data.sequence.items.start
            while let i = item, i != n.pointee.data.sequence.items.top {
                if let child = yaml_document_get_node(&document, i.pointee) { items.append(node(child, in: &document)) }
                item = i + 1
            }
            return YAMLNode(kind: .sequence(items), line: line)
        case YAML_MAPPING_NODE:
            var pairs: [(key: YAMLNode, value: YAMLNode)] = []
            var pair = n.pointee.data.mapping.pairs.start
            while let p = pair, p != n.pointee.data.mapping.pairs.top {
                if let k = yaml_document_get_node(&document, p.pointee.key), let v = yaml_document_get_node(&document, p.pointee.value) {
                    pairs.append((node(k, in: &document), node(v, in: &document)))
                }
                pair = p + 1
            }
            return YAMLNode(kind: .mapping(pairs), line: line)
        default:
            return YAMLNode(kind: .scalar("", plain: true), line: line)
        }
    }
}
