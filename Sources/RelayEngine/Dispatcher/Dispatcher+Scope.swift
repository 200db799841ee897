import RelayCore
import RelayStore

extension Dispatcher {
    /// What the templates and conditions of a run of `workflow` (the version the run started with) see: the run's
    /// trigger event and the latest attempt of each of its steps, from the store, the workflow's `vars` and the run
    /// (`run.id`, `run.workflow`). Every
    /// input, `when`, `for_each` and `output` the dispatcher renders or decides goes through here.
    func scope(runID: String, workflow: Workflow, in tx: any RunStoreTransaction) throws -> Template.Scope {
        var scope = try tx.scope(runID: runID)
        scope.vars = workflow.vars
        scope.run = ["id": .string(runID), "workflow": .string(workflow.name)]
        return scope
    }
}
