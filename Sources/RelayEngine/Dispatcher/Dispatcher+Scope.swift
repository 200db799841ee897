import RelayCore
import RelayStore

extension Dispatcher {
    /// What the templates and conditions of a run of `workflow` (the version the run started with) see: the run's
    /// trigger event and the latest attempt of each of its steps, from the store, and the workflow's `vars`. Every
    /// input, `when`, `for_each` and `output` the dispatcher renders or decides goes through here.
    func scope(runID: String, workflow: Workflow, in tx: any RunStoreTransaction) throws -> Template.Scope {
        var scope = try tx.scope(runID: runID)
        scope.vars = workflow.vars
        return scope
    }
}
