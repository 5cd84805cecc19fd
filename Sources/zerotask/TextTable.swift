/// A plain text table: a header row and left-aligned columns (right-aligned when numeric).
struct TextTable {
    var header: [String]
    var rows: [[String]] = []
    /// Columns aligned to the right (counts).
    var numeric: Set<Int> = []

    init(_ header: [String], numeric: Set<Int> = []) {
        self.header = header
        self.numeric = numeric
    }

    mutating func add(_ row: [String]) { rows.append(row) }

    var rendered: String {
        let all = [header] + rows
        let widths = header.indices.map { i in all.map { i < $0.count ? $0[i].count : 0 }.max() ?? 0 }
        return all.map { row in
            header.indices.map { i -> String in
                let cell = i < row.count ? row[i] : ""
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                if i == header.count - 1 && !numeric.contains(i) { return cell }
                return numeric.contains(i) ? pad + cell : cell + pad
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
