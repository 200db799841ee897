/// The limits on what `relay workflow import` reads. An export comes from outside: beyond these it is refused with
/// an error naming the file, never read into memory without bound or walked without end. JSON itself is read
/// within `JSONLimits` (nesting, integer digits, finite numbers).
public enum ImportLimits {
    /// The largest export file read (the largest of the 98 public exports is about 200 KB).
    public static let maximumFileBytes = 32 * 1024 * 1024
    /// Nodes (the trigger and the steps) of one workflow.
    public static let maximumNodes = 10_000
    /// Edges of one workflow.
    public static let maximumEdges = 20_000
    /// How deep a decision's expression may nest (`a AND (b OR (c …))`); the deepest in the corpus is 5.
    public static let maximumExpressionDepth = 64
    /// Loops nested in loops (each becomes a sub-workflow).
    public static let maximumLoopNesting = 32
    /// Ways into one step through decisions and joins that are kept apart in its condition; beyond this the
    /// condition is not written and the step is reported.
    public static let maximumPaths = 64
}
