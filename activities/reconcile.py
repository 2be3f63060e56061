"""Reconciliation activities: compare open rows with their workflow runs, close orphans."""

import asyncio
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.deps import Activities, Deps
from core.accounts import AmazonConnection
from core.clock import utcnow
from core.connection_life import (
    CONNECTION_WORKFLOW,
    connection_input,
    connection_workflow_id,
    start_connection_workflow,
)
from core.invitations import UserInvitation, close_open_invitation
from core.reconcile import MODELS, REQUEST, Target, adopt, judge, start_closing
from core.request_rows import close_open_request
from core.requests import ConnectionRequest
from core.timeline import add_event
from core.webhook_outbox import DELIVERY_WORKFLOW, start_stream, waiting_streams
from core.webhooks import stream_workflow_id
from vocabulary.messages import (
    ClosedByOperations,
    ConnectionInput,
    Orphan,
    Reconciled,
    ReconcileInput,
)
from vocabulary.statuses import (
    LIVE_CONNECTION,
    OPEN_REQUEST_STATES,
    OPERATIONS,
    InvitationState,
    RequestState,
)
from vocabulary.webhooks import WebhookStreamInput

_RESTARTED = (
    "The connection's checks had stopped in Temporal (its workflow was ended there): started"
    " again by the reconciliation"
)


class ReconcileActivities(Activities):
    """Needs the database and the worker's Temporal client."""

    def __init__(self, deps: Deps, client: Client) -> None:
        super().__init__(deps)
        self.client = client

    @activity.defn
    def close_by_operations(self, orphan: Orphan) -> ClosedByOperations:
        """Close the row if it is still open on the run that ended (atomic: once)."""
        with self.deps.session() as session:
            row = session.get(MODELS[orphan.kind], orphan.row_id)
            if row is None or (row.workflow_run_id or "") != orphan.run_id:
                return ClosedByOperations(False)
            if orphan.kind == REQUEST:
                detail = f"Closed by operations: its workflow was {orphan.how.replace('_', ' ')}"
                changed = close_open_request(
                    row, RequestState.CLOSED, f"{detail} in Temporal.", OPERATIONS
                )
            else:
                changed = close_open_invitation(row, InvitationState.CLOSED)
            session.commit()
            return ClosedByOperations(changed)

    def _open_targets(self) -> list[Target]:
        with self.deps.session() as session:
            requests = session.scalars(
                select(ConnectionRequest).filter(ConnectionRequest.status.in_(OPEN_REQUEST_STATES))
            ).all()
            invitations = session.scalars(
                select(UserInvitation).filter_by(status=InvitationState.PENDING)
            ).all()
            return [Target.of(row) for row in (*requests, *invitations)]

    def _adopt(self, target: Target, run_id: str) -> bool:
        with self.deps.session():
            return adopt(target, run_id)

    @activity.defn
    async def reconcile_open_rows(self, input: ReconcileInput) -> Reconciled:
        """Every open row whose run is not among the running ones is judged one by one."""
        targets = await asyncio.to_thread(self._open_targets)
        query = f'TaskQueue = "{input.task_queue}" AND ExecutionStatus = "Running"'
        running = {execution.run_id async for execution in self.client.list_workflows(query)}
        adopted = closing = 0
        for target in targets:
            if target.run_id in running:
                continue
            activity.heartbeat(target.workflow_id)
            verdict = await judge(self.client, target)
            if verdict.running:
                continue  # started after the list was made
            if verdict.adopt_run_id:
                adopted += await asyncio.to_thread(self._adopt, target, verdict.adopt_run_id)
            else:
                orphan = Orphan(target.kind, target.row_id, target.run_id, verdict.how)
                await start_closing(self.client, orphan, input.task_queue)
                closing += 1
        restarted = await self._restart_lives(input.task_queue)
        await self._sweep_webhooks(input.task_queue)
        return Reconciled(len(targets), adopted, closing, restarted)

    def _live_connections(self) -> list[ConnectionInput]:
        """Connections Amazon still accepts, as the app knows them, stored over a minute ago
        (a new one's workflow starts once its confirmation emails are out)."""
        with self.deps.session() as session:
            rows = session.scalars(
                select(AmazonConnection).filter(
                    AmazonConnection.status.in_(LIVE_CONNECTION),
                    AmazonConnection.connected_at < utcnow() - timedelta(minutes=1),
                )
            ).all()
            return [connection_input(row, current_app.config) for row in rows]

    def _note_restarted(self, connection_id: int) -> None:
        with self.deps.session() as session:
            connection = session.get(AmazonConnection, connection_id)
            if connection is not None:
                add_event(connection.request_id, "restarted", OPERATIONS, _RESTARTED)
                session.commit()

    async def _running(self, workflow_type: str, task_queue: str) -> set[str]:
        """The ids of the task queue's running workflows of that type."""
        query = (
            f'WorkflowType = "{workflow_type}" AND ExecutionStatus = "Running"'
            f' AND TaskQueue = "{task_queue}"'
        )
        return {execution.id async for execution in self.client.list_workflows(query)}

    async def _restart_lives(self, task_queue: str) -> int:
        """A stored connection always has its life (checks, renewal): one ops ended in Temporal
        starts again, from what its row says (the owner is not asked to renew twice)."""
        lives = await asyncio.to_thread(self._live_connections)
        running = await self._running(CONNECTION_WORKFLOW, task_queue)
        restarted = 0
        for life in lives:
            if connection_workflow_id(life.connection_id) in running:
                continue
            activity.heartbeat(life.connection_id)
            try:
                await start_connection_workflow(
                    self.client,
                    life,
                    task_queue,
                    f"Amazon {life.marketplace} connection {life.connection_id}"
                    " (restarted by the reconciliation)",
                )
            except WorkflowAlreadyStartedError:
                continue  # started after the list was made
            activity.logger.warning(
                "connection %s had no running workflow (ended in Temporal): started again",
                life.connection_id,
            )
            await asyncio.to_thread(self._note_restarted, life.connection_id)
            restarted += 1
        return restarted

    def _waiting_webhooks(self) -> list[WebhookStreamInput]:
        with self.deps.session():
            return waiting_streams(current_app.config)

    async def _sweep_webhooks(self, task_queue: str) -> int:
        """Webhook deliveries waiting with no workflow running for them (the process died
        between the commit and the start, or ops ended it) are started now."""
        streams = await asyncio.to_thread(self._waiting_webhooks)
        if not streams:
            return 0
        running = await self._running(DELIVERY_WORKFLOW, task_queue)
        started = 0
        for stream in streams:
            if stream_workflow_id(stream.endpoint_id, stream.stream) in running:
                continue
            activity.heartbeat(stream.stream)
            await start_stream(self.client, stream, task_queue)  # a nudge, if it just started
            started += 1
        if started:
            activity.logger.warning("started %s webhook streams that had no workflow", started)
        return started
