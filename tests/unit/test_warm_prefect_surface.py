"""What the warm worker takes from Prefect beyond its public surface (hjemtilos/warm/prefect_fork.py), checked
against the installed Prefect: when an upgrade moves any of it, this fails by name, before a forked run does."""

from __future__ import annotations

import importlib
import inspect
import threading

import prefect


def test_prefect_is_the_version_the_warm_worker_was_built_on() -> None:
    assert prefect.__version__.startswith("3.9."), prefect.__version__


def test_the_engine_entry_point_reads_the_run_id_from_the_environment_in_its_main_block() -> None:
    import prefect.engine

    source = inspect.getsource(prefect.engine)
    main = source[source.index('if __name__ == "__main__":'):]
    assert 'os.environ.get("PREFECT__FLOW_RUN_ID")' in main and "configure_from_env()" in main
    assert "run_flow(" in main and "handle_engine_signals(flow_run_id)" in main


def test_settings_refresh_and_the_background_workers_drain() -> None:
    from prefect.context import refresh_global_settings_context
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    assert callable(refresh_global_settings_context)
    for worker in (APILogWorker, EventsWorker):
        assert "timeout" in inspect.signature(worker.drain_all).parameters


def test_the_control_channel_is_configured_from_the_environment() -> None:
    from prefect._internal import control_listener

    source = inspect.getsource(control_listener.configure_from_env)
    assert "PREFECT__CONTROL_PORT" in source and "PREFECT__CONTROL_TOKEN" in source  # a port, not an inherited fd


def test_the_process_worker_runs_a_configured_command_as_is() -> None:
    from prefect.workers import process

    source = inspect.getsource(process.ProcessWorker.run)
    assert "configuration._command_configured" in source and "EngineCommandStarter" in source


def test_what_the_zygote_preloads_imports_and_starts_no_thread() -> None:
    from hjemtilos.warm import prefect_fork

    before = threading.active_count()
    for name in prefect_fork.PRELOADED:
        importlib.import_module(name)
    assert threading.active_count() == before
