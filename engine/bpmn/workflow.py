"""Our BpmnWorkflow: the same engine, finding ready and waiting tasks by their state.

SpiffWorkflow looks for the tasks to run (`_do_engine_steps`) and, after every task that
completes, for the waiting ones to update (`update_waiting_tasks`) with its tree iterator,
which walks every task of the instance, predicted ones included: on a diagram the size of
first response that walk is most of the time spent. A workflow keeps all its tasks in a
dict, so here they are found by looking at each task's state once. (A ready or waiting task
is never below a predicted one, where the iterator stops, so both find the same tasks.)
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.util.task import TaskState


def _ready(workflow: Any) -> list[Any]:
    return [task for task in workflow.tasks.values()
            if task._state == TaskState.READY and not task.task_spec.manual]


def _update_waiting(workflow: Any) -> None:
    for task in [t for t in workflow.tasks.values() if t._state == TaskState.WAITING]:
        task.task_spec._update(task)


class MashSubWorkflow(BpmnSubWorkflow):
    def update_waiting_tasks(self) -> None:
        _update_waiting(self)


class MashWorkflow(BpmnWorkflow):
    def update_waiting_tasks(self) -> None:
        _update_waiting(self)

    def create_subprocess(self, my_task: Any, spec_name: str) -> MashSubWorkflow:
        subprocess = MashSubWorkflow(self.subprocess_specs[spec_name],
                                     parent_task_id=my_task.id, top_workflow=self)
        self.subprocesses[my_task.id] = subprocess
        return subprocess

    def _do_engine_steps(self, will_complete_task: Any = None,
                         did_complete_task: Any = None) -> bool:
        def update_workflow(workflow: Any) -> int:
            count = 0
            for task in _ready(workflow):
                if task._state != TaskState.READY:
                    continue  # an earlier step of this pass moved it on (or cancelled it)
                if will_complete_task is not None:
                    will_complete_task(task)
                task.run()
                count += 1
                if did_complete_task is not None:
                    did_complete_task(task)
            return count

        active = self.get_active_subprocesses()
        for subprocess in sorted(active, key=lambda sp: sp.depth, reverse=True):
            count = None
            while count is None or count > 0:
                count = update_workflow(subprocess)
            if subprocess.parent_task_id is not None:
                task = self.get_task_from_id(subprocess.parent_task_id)
                task.task_spec._update(task)
        count = update_workflow(self)
        # Another pass while anything started a sub-process: counted by identity, since a
        # sub-process entered again (a loop back into it) replaces one that just completed.
        started = {id(sp) for sp in self.get_active_subprocesses()} - {id(sp) for sp in active}
        return count > 0 or bool(started)
