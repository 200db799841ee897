extension SpecLinter.Context {
    // MARK: duplicate-key

    /// A key written twice in one mapping is read as PyYAML reads it (the last value wins, so the spec loads and
    /// its schemas match the reference generator's), but the first value is silently ignored: say where.
    mutating func checkDuplicateKeys() {
        for duplicate in spec.duplicateKeys {
            problems.append(
                SpecProblem(
                    file: spec.file, line: duplicate.line, rule: .duplicateKey,
                    message: "key '\(duplicate.key)' appears again in the same mapping (first at line "
                        + "\(duplicate.firstLine)); this value is used and the first one is ignored, as PyYAML does; "
                        + "keep one"))
        }
    }
}
