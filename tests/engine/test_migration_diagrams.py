"""Migration on the real diagrams (processes/), as a process owner meets it: an instance
inside the embedded sub-process `sub_decide`, one inside the called `missing_child`, one in
its parallel branches, a deadline the new version adds on a task the instance waits at; on
SQLite and PostgreSQL. Each new version is the repository's diagrams edited (lxml) and
deployed as the next version."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from lxml import etree

from engine import migration
from tests.pathways.harness import PROCESSES, Hub
from tests.pathways.test_first_response import at

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"

Edit = Callable[[etree._ElementTree], None]


def hub_on_copy(database_url: str, tmp_path: Path,
                start: str = "2026-11-23T10:00:00+00:00") -> tuple[Hub, Path]:
    folder = tmp_path / "processes"
    shutil.copytree(PROCESSES, folder)
    return Hub(database_url, start=start, processes=folder), folder


def deploy_edited(hub: Hub, folder: Path, edits: dict[str, Edit]) -> None:
    for name, edit in edits.items():
        tree = etree.parse(str(folder / name))
        edit(tree)
        tree.write(str(folder / name), xml_declaration=True, encoding="UTF-8")
    assert any(d.new for d in hub.engine.deploy())


def element(tree: etree._ElementTree, element_id: str) -> etree._Element:
    [found] = [node for node in tree.iter() if node.get("id") == element_id]
    return found


def renamed(element_id: str, name: str) -> Edit:
    def edit(tree: etree._ElementTree) -> None:
        element(tree, element_id).set("name", name)
    return edit


def new_id(old: str, new: str) -> Edit:
    """An element given another id, every reference to it following (as the modeller does)."""
    def edit(tree: etree._ElementTree) -> None:
        for node in tree.iter():
            for attribute in ("id", "sourceRef", "targetRef", "attachedToRef", "bpmnElement"):
                if node.get(attribute) == old:
                    node.set(attribute, new)
            if node.tag == f"{{{BPMN}}}flowNodeRef" and node.text == old:
                node.text = new
    return edit


def both(*edits: Edit) -> Edit:
    def edit(tree: etree._ElementTree) -> None:
        for each in edits:
            each(tree)
    return edit


def missing_contact(hub: Hub) -> str:
    return hub.contact(received_at=hub.now(), missing=True,
                       concerns="Not returned home after school.")


def open_tasks(hub: Hub, instance: str) -> dict[str, dict[str, object]]:
    return {t["element_id"]: t for t in hub.tasks(instance)}


def test_an_instance_in_the_embedded_sub_process_and_one_in_a_called_process_move(
        database_url: str, tmp_path: Path) -> None:
    hub, folder = hub_on_copy(database_url, tmp_path)
    stage1 = hub.contact(received_at=hub.now())  # waiting at verify, inside sub_decide
    missing = missing_contact(hub)  # waiting at missing_brag, inside missing_child
    verify = hub.task(stage1, "verify")
    brag = hub.task(missing, "missing_brag")
    decision_due = hub.deadline(stage1, "decision")["due"]
    # v2: the outer diagram and the called one both change; missing_brag gets another id
    deploy_edited(hub, folder, {
        "first_response.bpmn": both(renamed("verify", "Verify and research (v2)"),
                                    renamed("open_contact_task", "Open the Contact (v2)")),
        "missing_child.bpmn": both(new_id("missing_brag", "missing_iar"),
                                   renamed("missing_iar", "BRAG the missing child (v2)"))})
    with pytest.raises(migration.PlanError) as refused:
        migration.migrate(hub.engine, migration.Plan("first_response", 1, 2))
    assert refused.value.problems == [
        f'instance {missing} is at missing_brag "BRAG the new contact: history, consent and '
        'initial RAG rating (IAR)", which the target version does not have: give an '
        "instruction missing_brag=TARGET_ELEMENT"]
    assert hub.view(stage1)["version"] == 1  # nothing moved, not even the one that could
    report = migration.migrate(hub.engine, migration.Plan(
        "first_response", 1, 2, {"missing_brag": "missing_iar"}), actor="ops")
    assert sorted(m.instance_id for m in report.moved) == sorted([stage1, missing])
    assert report.refused == []
    moved = hub.task(stage1, "verify")
    assert (moved["id"], moved["name"]) == (verify["id"], "Verify and research (v2)")
    moved = hub.task(missing, "missing_iar")
    assert (moved["id"], moved["name"]) == (brag["id"], "BRAG the missing child (v2)")
    assert hub.deadline(stage1, "decision")["due"] == decision_due  # kept
    assert hub.deadline(missing, "decision")["due"] == decision_due  # on the renamed task
    # Both carry on on v2, in and out of the sub-process and the called process.
    hub.complete(stage1, "verify", accepted=True)
    assert list(open_tasks(hub, stage1)) == ["brag"]
    hub.complete(stage1, "brag", rag="AMBER", threshold_level=3, consent_decision="confirmed")
    assert hub.task(stage1, "open_contact_task")["name"] == "Open the Contact (v2)"
    assert hub.deadline(stage1, "decision")["met"] is True
    hub.complete(missing, "missing_iar", rag="RED", threshold_level=4,
                 consent_decision="confirmed")
    assert list(open_tasks(hub, missing)) == ["missing_open_contact"]
    assert hub.deadline(missing, "decision")["met"] is True
    view = hub.view(missing)
    assert view["version"] == 2 and view["state"] == "waiting"
    [step] = [h for h in view["history"] if h["action"] == "migrated"]
    assert (step["actor"], step["changes"]) == ("ops", {
        "from_version": 1, "to_version": 2, "instructions": {"missing_brag": "missing_iar"},
        "rearmed": []})
    hub.close()


def test_a_called_process_the_new_version_no_longer_runs_is_refused(
        database_url: str, tmp_path: Path) -> None:
    hub, folder = hub_on_copy(database_url, tmp_path)
    missing = missing_contact(hub)

    def call_elsewhere(tree: etree._ElementTree) -> None:
        element(tree, "missing_pathway").set("calledElement", "raise_concerns")
    deploy_edited(hub, folder, {"first_response.bpmn": call_elsewhere})
    with pytest.raises(migration.PlanError) as refused:
        migration.migrate(hub.engine, migration.Plan("first_response", 1, 2))
    assert refused.value.problems == [
        f"instance {missing} is inside missing_child, which first_response v2 does not run: "
        "give an instruction missing_child=TARGET_SUB_PROCESS, or let it finish first"]
    assert hub.view(missing)["version"] == 1
    hub.close()


def test_parallel_branches_keep_their_tasks_and_data_and_the_instance_ends_when_both_do(
        database_url: str, tmp_path: Path) -> None:
    hub, folder = hub_on_copy(database_url, tmp_path)
    both_open, one_done = missing_contact(hub), missing_contact(hub)
    for instance in (both_open, one_done):
        hub.complete(instance, "missing_brag", rag="AMBER", threshold_level=3,
                     consent_decision="confirmed")
        hub.complete(instance, "missing_open_contact", contact_reference="MOS-9")
        assert set(open_tasks(hub, instance)) == {"record_missing_child",
                                                  "allocate_social_worker"}
    hub.complete(one_done, "record_missing_child", record_notes="Episode 3 this year.")
    before = {i: open_tasks(hub, i) for i in (both_open, one_done)}
    deploy_edited(hub, folder, {
        "missing_child.bpmn": renamed("record_missing_child", "Record of Missing Child (v2)"),
        "first_response.bpmn": renamed("allocate_social_worker", "Allocate a worker (v2)")})
    report = migration.migrate(hub.engine, migration.Plan("first_response", 1, 2))
    assert {m.instance_id: m.state for m in report.moved} == {both_open: "waiting",
                                                             one_done: "waiting"}
    for instance in (both_open, one_done):
        after = open_tasks(hub, instance)
        assert {k: v["id"] for k, v in after.items()} == \
            {k: v["id"] for k, v in before[instance].items()}
        assert after["allocate_social_worker"]["name"] == "Allocate a worker (v2)"
    assert open_tasks(hub, both_open)["record_missing_child"]["name"] == \
        "Record of Missing Child (v2)"
    # The assessment branch finishes first: the instance waits for the record...
    for instance in (both_open, one_done):
        hub.complete(instance, "allocate_social_worker", social_worker="Bo Worker")
        hub.complete(instance, "assess_risk", strategy_discussion=False,
                     share_with_partners=False, risk_summary="Done.")
        hub.complete(instance, "draft_plans", danger_statement="...", safety_plan="...")
        hub.complete(instance, "missing_decision", outcome="s17", threshold_level=3,
                     reasons="Child in need assessment.")
    view = hub.view(both_open)
    assert view["state"] == "waiting" and list(open_tasks(hub, both_open)) == [
        "record_missing_child"]
    # ...and ends when both branches have.
    assert hub.view(one_done)["state"] == "completed"
    hub.complete(both_open, "record_missing_child", record_notes="First episode.")
    for instance, notes in ((both_open, "First episode."), (one_done, "Episode 3 this year.")):
        view = hub.view(instance)
        assert (view["state"], view["outcome"], view["version"]) == ("completed", "s17", 2)
        assert view["path"].count("record_done_end") == 1
        assert view["path"].count("missing_decided_end") == 1
        [recorded] = [h["changes"] for h in view["history"]
                      if h["element_id"] == "record_missing_child"]
        assert recorded == {"record_notes": notes}
    hub.close()


VERIFY_DUE = f"""
<bpmn:boundaryEvent xmlns:bpmn="{BPMN}" xmlns:camunda="{CAMUNDA}"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="verify_due"
    name="Verification due (2 working hours)" cancelActivity="false" attachedToRef="verify">
  <bpmn:extensionElements>
    <camunda:properties>
      <camunda:property name="deadline" value="verification" />
    </camunda:properties>
  </bpmn:extensionElements>
  <bpmn:outgoing>verify_due_to_verify_late_end</bpmn:outgoing>
  <bpmn:timerEventDefinition id="verify_due_timer">
    <bpmn:timeDate xsi:type="bpmn:tFormalExpression">working_hours(2)</bpmn:timeDate>
  </bpmn:timerEventDefinition>
</bpmn:boundaryEvent>"""
VERIFY_LATE = f"""<bpmn:endEvent xmlns:bpmn="{BPMN}" id="verify_late_end" name="Late">
  <bpmn:incoming>verify_due_to_verify_late_end</bpmn:incoming></bpmn:endEvent>"""
VERIFY_LATE_FLOW = f"""<bpmn:sequenceFlow xmlns:bpmn="{BPMN}" id="verify_due_to_verify_late_end"
  sourceRef="verify_due" targetRef="verify_late_end" />"""


def verification_deadline(tree: etree._ElementTree, rule: str = "working_hours(2)",
                          since: str | None = None) -> None:
    """A deadline on `verify` (inside sub_decide): 2 working hours, or as `rule` says."""
    sub = element(tree, "sub_decide")
    event = VERIFY_DUE.replace("working_hours(2)", rule)
    if since is not None:
        event = event.replace('value="verification" />', f'value="verification" />'
                              f'<camunda:property name="since" value="{since}" />')
    for text in (event, VERIFY_LATE, VERIFY_LATE_FLOW):
        sub.append(etree.fromstring(text))
    for ref in list(tree.iter(f"{{{BPMN}}}flowNodeRef")):  # they stand in verify's lane
        lane = ref.getparent()
        if ref.text == "verify" and lane is not None:
            for new in ("verify_due", "verify_late_end"):
                etree.SubElement(lane, f"{{{BPMN}}}flowNodeRef").text = new


def test_a_deadline_the_new_version_adds_on_the_waiting_task_is_armed_from_the_move(
        database_url: str, tmp_path: Path) -> None:
    hub, folder = hub_on_copy(database_url, tmp_path)
    late, on_time = hub.contact(received_at=hub.now()), hub.contact(received_at=hub.now())
    task = hub.task(late, "verify")
    assert task["due"] == hub.deadline(late, "decision")["due"]
    hub.advance(to="2026-11-23T11:00:00Z")
    deploy_edited(hub, folder, {"first_response.bpmn": verification_deadline})
    migration.migrate(hub.engine, migration.Plan("first_response", 1, 2), actor="ops")
    # Armed under v2's rule from the move (11:00 + 2 working hours), as Camunda 7 creates
    # the timer of a boundary event the target introduces; the task is due then.
    for instance in (late, on_time):
        deadline = hub.deadline(instance, "verification")
        assert (deadline["started_at"], deadline["due"], deadline["met"]) == (
            at("2026-11-23T11:00:00Z"), at("2026-11-23T13:00:00Z"), None)
        assert hub.task(instance, "verify")["due"] == at("2026-11-23T13:00:00Z")
        [armed] = [h for h in hub.view(instance)["history"] if h["action"] == "deadline_armed"]
        assert (armed["actor"], armed["element_id"], armed["element_name"]) == (
            "ops", "verify_due", "verification")
        assert armed["changes"]["due"] == "2026-11-23T13:00:00+00:00"
    hub.complete(on_time, "verify", accepted=True)
    hub.advance(to="2026-11-23T14:00:00Z")
    assert hub.deadline(late, "verification")["met"] is False
    assert hub.deadline(on_time, "verification")["met"] is True
    hub.complete(late, "verify", accepted=True)  # the boundary's join still joins
    for instance in (late, on_time):
        assert list(open_tasks(hub, instance)) == ["brag"]
        assert hub.view(instance)["state"] == "waiting"
    hub.close()


def test_an_incident_inside_raise_concerns_is_fixed_by_moving_to_the_version_that_fixes_it(
        database_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "processes"
    shutil.copytree(PROCESSES, folder)
    script, broken = "police_notified = now()", "police_notified = now() + 1"
    diagram = folder / "raise_concerns.bpmn"
    diagram.write_text(diagram.read_text().replace(script, broken))
    hub = Hub(database_url, start="2026-11-23T10:00:00+00:00", processes=folder)
    contact = hub.contact(received_at=hub.now(), crime_suspected=True)
    view = hub.view(contact)
    assert view["state"] == "incident" and hub.tasks(contact) == []
    assert view["error"].startswith("police_told")
    assert hub.engine.retry(contact, "ops") == "incident"  # v1 fails for ever
    diagram.write_text(diagram.read_text().replace(broken, script))
    hub.engine.deploy()
    [moved] = migration.migrate(hub.engine, migration.Plan("first_response", 1, 2)).moved
    assert (moved.instance_id, moved.state, moved.error) == (contact, "waiting", None)
    view = hub.view(contact)
    assert view["version"] == 2 and list(open_tasks(hub, contact)) == ["verify"]
    assert view["path"].count("police_told") == 1 and view["path"].count("notify_police") == 1
    assert len([n for n in view["notifications"] if n["kind"] == "police_notification"]) == 1
    hub.close()


def three_working_days(tree: etree._ElementTree) -> None:
    for node in tree.iter(f"{{{BPMN}}}timeDate"):
        node.text = (node.text or "").replace("working_days(5)", "working_days(3)")


def test_staged_timers_keep_their_due_instants_unless_re_armed(
        database_url: str, tmp_path: Path) -> None:
    hub, folder = hub_on_copy(database_url, tmp_path)
    data = {"summary": "We disagree.", "informal_attempt_failed": True,
            "raised_by": {"name": "Pat Nurse", "agency": "Health", "email": "p@health.invalid"}}
    kept, rearmed = hub.start("escalation", data), hub.start("escalation", data)
    # Mon 23 Nov 10:00 + 5 working days = Mon 30 Nov 17:15
    assert hub.deadline(kept, "stage_1_response")["due"] == at("2026-11-30T17:15:00Z")
    hub.advance(to="2026-11-24T10:00:00Z")
    deploy_edited(hub, folder, {"escalation.bpmn": three_working_days})
    migration.migrate(hub.engine, migration.Plan("escalation", 1, 2), [kept])
    migration.migrate(hub.engine, migration.Plan("escalation", 1, 2,
                                                 rearm=frozenset({"stage_1_due"})), [rearmed])
    assert hub.deadline(kept, "stage_1_response")["due"] == at("2026-11-30T17:15:00Z")
    assert hub.task(kept, "stage_1_response")["due"] == at("2026-11-30T17:15:00Z")
    # Re-armed under v2's rule from the move: Tue 24 Nov + 3 working days = Fri 27 Nov 16:45
    assert hub.deadline(rearmed, "stage_1_response")["due"] == at("2026-11-27T16:45:00Z")
    assert hub.task(rearmed, "stage_1_response")["due"] == at("2026-11-27T16:45:00Z")
    [step] = [h for h in hub.view(rearmed)["history"] if h["action"] == "deadline_rearmed"]
    assert (step["element_id"], step["changes"]) == (
        "stage_1_due", {"due": "2026-11-27T16:45:00+00:00"})
    hub.advance(through="2026-11-27T16:45:00Z")
    assert [t["element_id"] for t in hub.tasks(rearmed)] == ["stage_2_response"]
    assert [t["element_id"] for t in hub.tasks(kept)] == ["stage_1_response"]
    hub.advance(through="2026-11-30T17:15:00Z")  # the kept instant fires as it was set
    assert hub.deadline(kept, "stage_1_response")["met"] is False
    # The next stage's timer is v2's: 3 working days from Mon 30 Nov 17:15 (counted from Tue 1
    # Dec, as v1 counted its 5 to Tue 8 Dec) = Fri 4 Dec 16:45
    assert hub.deadline(kept, "stage_2_response")["due"] == at("2026-12-04T16:45:00Z")
    hub.close()


def without_decision_deadline(tree: etree._ElementTree) -> None:
    """v2 has no `decision` deadline on sub_decide (the boundary event and its breach path)."""
    for element_id in ("decision_due", "decision_breach", "decision_breach_end",
                       "decision_due_to_decision_breach",
                       "decision_breach_to_decision_breach_end"):
        node = element(tree, element_id)
        parent = node.getparent()
        assert parent is not None
        parent.remove(node)
    for node in list(tree.iter()):  # its lane references and drawing
        if node.text in ("decision_due", "decision_breach", "decision_breach_end") \
                or (node.get("bpmnElement") or "").startswith("decision_"):
            parent = node.getparent()
            if parent is not None:
                parent.remove(node)


def test_a_deadline_the_new_version_removes_is_refused_unless_dropped(
        database_url: str, tmp_path: Path) -> None:
    hub, folder = hub_on_copy(database_url, tmp_path)
    contact = hub.contact(received_at=hub.now())
    due = hub.deadline(contact, "decision")["due"]
    deploy_edited(hub, folder, {"first_response.bpmn": without_decision_deadline})
    with pytest.raises(migration.PlanError) as refused:
        migration.migrate(hub.engine, migration.Plan("first_response", 1, 2))
    assert refused.value.problems == [
        f'instance {contact} is at decision_due "Decision due (1 working day)", which the '
        "target version does not have: give an instruction decision_due=TARGET_ELEMENT, or "
        "--drop decision_due to cancel it at the move"]
    with pytest.raises(migration.PlanError, match="verify is not a boundary event"):
        migration.migrate(hub.engine, migration.Plan("first_response", 1, 2,
                                                     drop=frozenset({"verify"})))
    hub.advance(to="2026-11-23T11:00:00Z")
    migration.migrate(hub.engine, migration.Plan("first_response", 1, 2,
                                                 drop=frozenset({"decision_due"})), actor="ops")
    deadline = hub.deadline(contact, "decision")
    assert (deadline["cancelled"], deadline["met"], deadline["done_at"]) == (True, None, None)
    assert hub.task(contact, "verify")["due"] is None
    view = hub.view(contact)
    [step] = [h for h in view["history"] if h["action"] == "deadline_dropped"]
    assert (step["actor"], step["element_id"], step["changes"]) == (
        "ops", "decision_due", {"due": due.isoformat()})
    [moved] = [h for h in view["history"] if h["action"] == "migrated"]
    assert moved["changes"]["dropped"] == ["decision_due"]
    hub.advance(through=due)  # nothing fires: the deadline is gone with v1
    assert hub.deadline(contact, "decision")["breached_at"] is None
    hub.complete(contact, "verify", accepted=True)
    hub.complete(contact, "brag", rag="AMBER", threshold_level=3, consent_decision="confirmed")
    assert list(open_tasks(hub, contact)) == ["open_contact_task"]
    assert hub.view(contact)["version"] == 2
    hub.close()


def test_an_embedded_sub_process_given_a_new_id_moves_when_mapped_but_work_stays_inside_it(
        database_url: str, tmp_path: Path) -> None:
    hub, folder = hub_on_copy(database_url, tmp_path)
    contact = hub.contact(received_at=hub.now())
    due = hub.deadline(contact, "decision")["due"]
    deploy_edited(hub, folder, {"first_response.bpmn": new_id("sub_decide", "stages_1_2")})
    with pytest.raises(migration.PlanError) as refused:
        migration.migrate(hub.engine, migration.Plan("first_response", 1, 2))
    assert refused.value.problems == [  # one line: the work inside follows the sub-process
        f'instance {contact} is at sub_decide "Stages 1–2: decide what happens to the contact",'
        " which the target version does not have: give an instruction "
        "sub_decide=TARGET_ELEMENT"]
    with pytest.raises(migration.PlanError) as refused:  # out of the sub-process: no
        migration.migrate(hub.engine, migration.Plan("first_response", 1, 2, {
            "sub_decide": "stages_1_2", "verify": "open_contact_task"}))
    assert refused.value.problems == [
        f'instance {contact} is at verify "Verification and research: history and previous '
        'involvement", which the target version has only inside first_response: work does not '
        "move into or out of a sub-process or called process; give an instruction to an "
        "element beside it, or let it finish first"]
    migration.migrate(hub.engine, migration.Plan("first_response", 1, 2,
                                                 {"sub_decide": "stages_1_2"}))
    assert hub.deadline(contact, "decision")["due"] == due
    hub.complete(contact, "verify", accepted=True)
    hub.complete(contact, "brag", rag="AMBER", threshold_level=3, consent_decision="confirmed")
    assert list(open_tasks(hub, contact)) == ["open_contact_task"]
    view = hub.view(contact)
    assert view["path"][-2:] == ["stages_1_2", "route_gw"]
    assert hub.deadline(contact, "decision")["met"] is True
    hub.close()


def test_a_ppn_meeting_rating_in_its_multi_instance_sub_process_moves_and_still_ends(
        database_url: str, tmp_path: Path) -> None:
    from tests.pathways.test_ppn_meeting import meeting_at, ppn

    hub, folder = hub_on_copy(database_url, tmp_path, start="2026-11-27T09:00:00+00:00")
    rated = [ppn(hub, "2026-11-27T15:00:00Z"), ppn(hub, "2026-11-27T15:30:00Z")]
    hub.advance(through="2026-11-30T10:00:00Z")
    meeting = meeting_at(hub, "2026-11-30T10:00:00Z")
    hub.complete(meeting, "hold_meeting", attendees="DC Sam Reed; MASH Team Manager")
    later = ppn(hub, "2026-11-30T10:30:00Z")  # waits at await_ppn_meeting, in sub_decide
    deploy_edited(hub, folder, {
        "ppn_meeting.bpmn": both(new_id("rate_ppns", "rate_each_ppn"),
                                 renamed("rate_ppn", "Rate the PPN (v2)")),
        "first_response.bpmn": renamed("take_rating", "Take the meeting's rating (v2)")})
    migration.migrate(hub.engine, migration.Plan("ppn_meeting", 1, 2,
                                                 {"rate_ppns": "rate_each_ppn"}))
    migration.migrate(hub.engine, migration.Plan("first_response", 1, 2))
    tasks = [t for t in hub.tasks(meeting) if t["element_id"] == "rate_ppn"]
    assert [t["name"] for t in tasks] == ["Rate the PPN (v2)"] * 2
    for task in tasks:
        hub.engine.complete(task["id"], {"rag": "RED", "threshold_level": 4}, "tester")
    view = hub.view(meeting)  # the multi-instance activity ends when its instances have
    assert (view["state"], view["version"]) == ("completed", 2)
    assert view["path"][-2:] == ["rate_each_ppn", "meeting_done_end"]
    for contact in rated:
        assert (hub.view(contact)["version"], hub.view(contact)["rag"]) == (2, "RED")
        assert list(open_tasks(hub, contact)) == ["open_contact_task"]
    hub.advance(through="2026-12-01T10:00:00Z")  # the next meeting lists the one still waiting
    nxt = meeting_at(hub, "2026-12-01T10:00:00Z")
    hub.complete(nxt, "hold_meeting", attendees="DC Sam Reed")
    [task] = [t for t in hub.tasks(nxt) if t["element_id"] == "rate_ppn"]
    assert hub.engine.task_data(task["id"])["ppn"]["instance_id"] == later
    hub.engine.complete(task["id"], {"rag": "AMBER", "threshold_level": 3}, "tester")
    assert (hub.view(later)["version"], hub.view(later)["rag"]) == (2, "AMBER")
    assert list(open_tasks(hub, later)) == ["open_contact_task"]
    hub.close()


def test_a_deadline_added_that_counts_from_receipt_and_is_past_is_breached_at_the_move(
        database_url: str, tmp_path: Path) -> None:
    hub, folder = hub_on_copy(database_url, tmp_path)
    contact = hub.contact(received_at=hub.now())  # 10:00
    hub.advance(to="2026-11-23T14:00:00Z")
    deploy_edited(hub, folder, {"first_response.bpmn": lambda tree: verification_deadline(
        tree, "working_hours(1, since=received_at)", since="received_at")})
    [moved] = migration.migrate(hub.engine, migration.Plan("first_response", 1, 2)).moved
    assert moved.state == "waiting"
    deadline = hub.deadline(contact, "verification")
    assert (deadline["started_at"], deadline["due"], deadline["breached_at"], deadline["met"]) \
        == (at("2026-11-23T10:00:00Z"), at("2026-11-23T11:00:00Z"),
            at("2026-11-23T14:00:00Z"), False)
    history = hub.view(contact)["history"]
    start = [h["action"] for h in history].index("migrated")
    assert [(h["action"], h["element_id"]) for h in history[start:start + 4]] == [
        ("migrated", None), ("deadline_armed", "verify_due"), ("completed", "verify_due"),
        ("deadline_breached", "verify_due")]
    assert list(open_tasks(hub, contact)) == ["verify"]  # the work carries on
    hub.close()
