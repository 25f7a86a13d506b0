"""Suspend the current flow run for a coordinator's form, and make sure the form's schema is stored.

Prefect's `suspend_flow_run(wait_for_input=...)` proposes the Suspended state and then stores the form's schema
(the server deletes any input under the keyset when the run enters Suspended, so it cannot come first). When the
schema is not stored, the run waits Suspended and the server rejects every answer with "Run input schema not
found": a case nobody can move. Seen under SQLite write contention (benchmarks 1-3 on SQLite), two ways:
- the server took the Suspended state but its answer was lost; the client's retry is rejected ("already fired")
  with the paused state, and Prefect raises Pause straight away, skipping the store. Here that counts as our
  suspension and the schema is stored;
- the server stored the schema but answered 503, and the retry got 409 "already exists": the run failed. Here
  409 counts as done (the Prefect client itself retries 503s and dropped connections).
The rest matches Prefect's own function (3.9.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from prefect.client.schemas.objects import State
from prefect.context import FlowRunContext
from prefect.exceptions import Abort, ObjectNotFound, Pause, PrefectHTTPStatusError
from prefect.input import keyset_from_paused_state
from prefect.input.actions import create_flow_run_input
from prefect.input.run_input import RunInput, run_input_subclass_from_type
from prefect.states import Suspended
from pydantic import ValidationError

from hjemtilos.adapters.prefect_private import form_schema, mark_suspension_requested

T = TypeVar("T", bound=RunInput)


def store_once(key: str, value: Any, flow_run_id: Any) -> None:
    """Store one run input; an input already under `key` counts as done: the server stored it on an earlier
    attempt whose answer was lost, and the Prefect client's own retry (it retries 503s and dropped connections)
    then got 409."""
    try:
        # sync_compatible: _sync=True runs it here and now; the stub does not know the keyword
        create_flow_run_input(key=key, value=value, flow_run_id=flow_run_id, _sync=True)  # type: ignore[call-arg]
    except PrefectHTTPStatusError as exc:
        if exc.response.status_code != 409:
            raise


def store_form_schema(form: type[RunInput], keyset: Mapping[Any, str], flow_run_id: Any) -> None:
    """The schema the server validates answers against (and the UI draws its form from), and the description."""
    store_once(keyset["schema"], form_schema(form.__name__, form), flow_run_id)
    if isinstance(form._description, str) and form._description:
        store_once(keyset["description"], form._description, flow_run_id)


def suspend_for_input(form: type[T], key: str) -> T:
    """Suspend this flow run until a coordinator submits `form`; on the re-executed run, return the answer.

    Raises RuntimeError (or ObjectNotFound from loading) when the run was resumed without an answer, like
    Prefect's function."""
    from prefect.client.orchestration import get_client
    from prefect.logging.loggers import get_run_logger
    from prefect.utilities.engine import propose_state_sync

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        raise RuntimeError("Flow runs can only be suspended from within a flow run.")
    flow_run_id = context.flow_run.id
    # Prefect's annotations: the helper takes "a type or a model" and returns a union of RunInput subclasses
    model = cast(type[RunInput], run_input_subclass_from_type(cast(Any, form)))
    proposed: State[Any] = Suspended(timeout_seconds=None, pause_key=key)
    keyset = keyset_from_paused_state(proposed)
    proposed.state_details.run_input_keyset = {str(name): value for name, value in keyset.items()}

    with get_client(sync_client=True) as client:
        try:
            state = propose_state_sync(client=client, state=proposed, flow_run_id=flow_run_id)
        except Abort as exc:
            raise RuntimeError(f"Flow run cannot be suspended: {exc}") from exc
        except Pause as exc:
            # The server took our Suspended state but its answer was lost (a 503 or a timeout under SQLite
            # contention); the client's retry is rejected ("already fired") with the run's current, paused state,
            # and Prefect raises Pause at once, before any schema is stored. Our suspension: go on and store it.
            current = exc.state
            if current is None or not current.is_paused() or current.state_details.pause_key != key:
                raise
            state = current
    if state.is_running():
        # Prefect refuses a second suspension under a key that already fired and answers Running: the run was
        # suspended under this key before and has been set going since. Usually by the answer, which is then
        # stored; but a run forced to Crashed, Failed or Scheduled while it waited (a dead worker, the timekeeper
        # continuing a case) comes here with no answer. That is "no answer", never a failure: the caller asks
        # again under the next round's key.
        try:
            return cast(T, model.load(keyset))  # the stored answer, loaded into the form's own class
        except (ObjectNotFound, ValidationError) as exc:
            raise RuntimeError(f"Resumed without an answer under key {key}") from exc
        except PrefectHTTPStatusError as exc:  # reading a missing input answers a plain 404
            if exc.response.status_code != 404:
                raise
            raise RuntimeError(f"Resumed without an answer under key {key}") from exc
    if not state.is_paused():
        raise RuntimeError(f"Flow run cannot be suspended. Received unexpected state from API: {state}")
    store_form_schema(model, keyset, flow_run_id)
    get_run_logger(context=context).info("Suspended for input under key %s", key)
    mark_suspension_requested(flow_run_id, state)
    raise Pause(state=state)
