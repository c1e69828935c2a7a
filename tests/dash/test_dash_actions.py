"""Write actions: refused without the right token — in Python and over HTTP, the way a script would
call them — and doing exactly their one write with it. Plus: the token is never rendered."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from dash_builders import add_bars, add_mention, add_position, add_run, set_trading_state, utc
from dash_harness import TOKEN, DashHarness, make_kevin_runtime, text_of
from sqlalchemy import event, func, select

from kevin_dash import actions
from kevin_dash.app import create_app
from kevin_dash.jobs import BacktestJobs
from kevin_pipeline.db.models import BacktestRun, ManualCloseRequest, TradingState
from kevin_pipeline.domain.calendar import nyse_calendar
from kevin_pipeline.trading import controls

SESSIONS = nyse_calendar().sessions_between(date(2024, 1, 2), date(2024, 3, 28))


def _count(h: DashHarness, model: type) -> int:
    with h.kapp.sessions() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def _state(h: DashHarness) -> TradingState:
    with h.kapp.sessions() as s:
        row = s.get(TradingState, 1)
        assert row is not None
        return row


def _open_lot(h: DashHarness) -> int:
    with h.kapp.transaction() as s:
        add_bars(s, "AAPL", [(date(2024, 1, 2), 100.0, 101.0)])
        return add_position(s, "AAPL", 10, "100.00", utc(2024, 1, 2, 14, 30)).id


def _backtestable(h: DashHarness) -> None:
    with h.kapp.transaction() as s:
        add_bars(s, "XYZ", [(d, 100.0 + i * 0.5, 100.5 + i * 0.5) for i, d in enumerate(SESSIONS)])
        add_bars(s, "SPY", [(d, 400.0 + i, 400.5 + i) for i, d in enumerate(SESSIONS)])
        add_mention(s, "XYZ", "buy", utc(2024, 1, 3, 15), conviction="0.90", horizon="weeks")
        add_mention(s, "XYZ", "buy", utc(2024, 2, 5, 15), conviction="0.75", horizon="days")


# --- the token check ----------------------------------------------------------------------------


def test_check_token_accepts_only_the_configured_token(harness: DashHarness) -> None:
    actions.check_token(harness.kapp.settings, TOKEN)
    for bad in (None, "", "wrong", TOKEN + " ", TOKEN.upper(), 12345, ["x"]):
        with pytest.raises(actions.WriteRefused):
            actions.check_token(harness.kapp.settings, bad)


def test_without_a_configured_token_every_write_is_refused_and_says_why(readonly_harness: DashHarness) -> None:
    h = readonly_harness
    lot = _open_lot(h)
    settings = h.kapp.settings
    assert actions.write_disabled_reason(settings, "anything") == actions.NOT_CONFIGURED
    for result in (
        actions.set_kill_switch(h.kapp, "", True),
        actions.resume_trading(h.kapp, None),
        actions.close_position(h.kapp, "x", lot),
        actions.start_backtest(h.kapp, BacktestJobs(h.kapp), "x", actions.BacktestForm()),
    ):
        assert not result.ok and "KEVIN_DASH_TOKEN is not set" in result.message
    assert _count(h, ManualCloseRequest) == 0 and _count(h, BacktestRun) == 0
    assert _state(h).trading_enabled is False


def test_actions_write_with_the_token(harness: DashHarness) -> None:
    h = harness
    lot = _open_lot(h)
    assert actions.set_kill_switch(h.kapp, TOKEN, True).ok and _state(h).trading_enabled is True
    assert "KEVIN_ENABLE_TRADING=true" in actions.set_kill_switch(h.kapp, TOKEN, True).message  # env switch still off
    with h.kapp.transaction() as s:
        set_trading_state(s, halted=True, halt_reason="drawdown")
    assert actions.resume_trading(h.kapp, TOKEN).message.startswith("Resumed")
    assert _state(h).halted is False
    result = actions.close_position(h.kapp, TOKEN, lot)
    assert result.ok and "AAPL" in result.message
    # KEVIN_ENABLE_TRADING is false here, which forces the switch off: nothing goes to the broker,
    # the request waits for the first exit scan that allows exits
    assert "trading is OFF" in result.message
    with h.kapp.sessions() as s:
        req = s.scalars(select(ManualCloseRequest)).one()
    assert (req.symbol, req.position_id, req.status, req.requested_by) == ("AAPL", lot, "pending", "dashboard")
    assert not actions.close_position(h.kapp, TOKEN, 9999).ok  # no such lot: refused, nothing written
    assert not actions.close_position(h.kapp, TOKEN, True).ok
    assert _count(h, ManualCloseRequest) == 1


def test_close_goes_out_at_once_when_the_switch_allows_exits(tmp_path: Path) -> None:
    for mode in ("on", "exits-only"):
        kapp = make_kevin_runtime(tmp_path / mode, enable_trading=True)
        h = DashHarness(kapp, create_app(kapp))
        try:
            lot = _open_lot(h)
            assert actions.set_kill_switch(h.kapp, TOKEN, mode).ok
            result = actions.close_position(h.kapp, TOKEN, lot)
            assert result.ok and "Close order sent for AAPL" in result.message, mode
            with h.kapp.sessions() as s:
                req = s.scalars(select(ManualCloseRequest)).one()
            # sent at once through the order path (this fixture lot is unknown to the simulated venue)
            assert (req.status, req.requested_by) == ("done", "dashboard")
        finally:
            h.close()


def test_backtest_form_validation_names_the_field(harness: DashHarness) -> None:
    s = harness.kapp.settings
    params, start, end = actions.form_to_params(s, actions.BacktestForm(0.7, 12, 5, 25, 10, "2024-01-01", "2024-03-01"))
    assert (float(params.min_conviction), params.hold_sessions_weeks) == (pytest.approx(0.7), 12)
    assert float(params.stop_loss_pct) == pytest.approx(0.05) and float(params.take_profit_pct) == pytest.approx(0.25)
    assert float(params.slippage_bps) == 10 and (start, end) == (date(2024, 1, 1), date(2024, 3, 1))
    for form, words in (
        (actions.BacktestForm(min_conviction=1.5), "min_conviction"),
        (actions.BacktestForm(hold_sessions_weeks=2.5), "whole number"),
        (actions.BacktestForm(stop_loss_pct="abc"), "stop-loss %"),
        (actions.BacktestForm(start="2024-03-01", end="2024-01-01"), "start date is after"),
        (actions.BacktestForm(end="March"), "end date"),
    ):
        with pytest.raises(ValueError, match=words):
            actions.form_to_params(s, form)


def test_start_backtest_runs_in_the_background_and_stores_a_dash_run(harness: DashHarness) -> None:
    h = harness
    _backtestable(h)
    jobs = BacktestJobs(h.kapp)
    try:
        result = actions.start_backtest(h.kapp, jobs, TOKEN, actions.BacktestForm(min_conviction=0.6, hold_sessions_weeks=5))
        assert result.ok and result.job_id
        status = jobs.wait(result.job_id, timeout=60)
        assert status is not None and status.state == "succeeded" and status.percent == 100, status
        with h.kapp.sessions() as s:
            run = s.get(BacktestRun, status.run_id)
            assert run is not None and run.trigger == "dash" and run.status == "succeeded"
            assert run.params["hold_sessions_weeks"] == 5 and run.metrics["trade_count"] >= 1
    finally:
        jobs.shutdown()


def test_a_failing_backtest_is_stored_as_a_failed_run(harness: DashHarness) -> None:
    jobs = BacktestJobs(harness.kapp)  # empty database: no mentions
    try:
        result = actions.start_backtest(harness.kapp, jobs, TOKEN, actions.BacktestForm())
        status = jobs.wait(result.job_id, timeout=60)  # type: ignore[arg-type]
        assert status is not None and status.state == "failed" and "no mentions" in (status.error or "")
        with harness.kapp.sessions() as s:
            run = s.get(BacktestRun, status.run_id)
            assert run is not None and run.status == "failed" and run.trigger == "dash"
    finally:
        jobs.shutdown()


# --- the same over HTTP ----------------------------------------------------------------------------


def test_http_close_without_or_with_a_wrong_token_changes_nothing(harness: DashHarness) -> None:
    h = harness
    lot = _open_lot(h)
    for token in (None, "", "guess"):
        resp = h.call({"paper-close-confirm.submit_n_clicks": 1},
                      {"paper-close-target.data": {"position_id": lot}, "shell-token.value": token})
        assert "Refused" in text_of(resp)
    assert _count(h, ManualCloseRequest) == 0
    # the same request with the token does write: the refusals above were not a malformed request
    resp = h.call({"paper-close-confirm.submit_n_clicks": 1},
                  {"paper-close-target.data": {"position_id": lot}, "shell-token.value": TOKEN})
    assert "for AAPL (request #1)" in text_of(resp) and "Refused" not in text_of(resp)
    assert _count(h, ManualCloseRequest) == 1


def test_http_kill_switch_and_resume_need_the_token(harness: DashHarness) -> None:
    h = harness
    with h.kapp.transaction() as s:
        set_trading_state(s, halted=True, halt_reason="drawdown")
    for token in (None, "nope"):
        resp = _post_kill(h, True, token)
        assert "Refused" in text_of(resp)
        resp = _post_resume(h, token)
        assert "Refused" in text_of(resp)
    state = _state(h)
    assert state.trading_enabled is False and state.halted is True
    assert "Runtime trading switch is now EXITS-ONLY" in text_of(_post_kill(h, "exits-only", TOKEN))
    assert _state(h).trading_mode == "exits-only"
    assert "Runtime trading switch is now ON" in text_of(_post_kill(h, True, TOKEN))
    assert "Resumed" in text_of(_post_resume(h, TOKEN))
    state = _state(h)
    assert state.trading_mode == "on" and state.halted is False


RISK_BUTTONS = ("paper-kill-on", "paper-kill-exits-only", "paper-kill-off", "paper-resume")


def _press_risk_button(h: DashHarness, button: str, token: str | None) -> dict:
    """Click one of the risk panel's buttons (one callback serves them all)."""
    clicks = {f"{b}.n_clicks": int(b == button) for b in RISK_BUTTONS}
    return h.call(clicks, {"shell-token.value": token}, changed=f"{button}.n_clicks")


def _post_kill(h: DashHarness, target: bool | str, token: str | None) -> dict:
    """Click the kill-switch button for `target` (True: on, False: off, or the mode's name)."""
    mode = {True: "on", False: "off"}.get(target, target) if isinstance(target, bool) else target
    return _press_risk_button(h, f"paper-kill-{mode}", token)


def _post_resume(h: DashHarness, token: str | None) -> dict:
    return _press_risk_button(h, "paper-resume", token)


def _post_run(h: DashHarness, token: str | None) -> dict:
    return h.call(
        {"strategy-run-submit.n_clicks": 1},
        {"shell-token.value": token, "strategy-form-conviction.value": 0.6, "strategy-form-hold.value": 10,
         "strategy-form-stop.value": 8, "strategy-form-tp.value": 20, "strategy-form-slippage.value": 5,
         "strategy-form-dates.start_date": None, "strategy-form-dates.end_date": None},
    )


def test_http_run_backtest_needs_the_token(harness: DashHarness) -> None:
    h = harness
    _backtestable(h)
    jobs = h.dash_app.server.extensions["kevin_dash"].jobs
    for token in (None, "nope"):
        assert "Refused" in text_of(_post_run(h, token))
    assert _count(h, BacktestRun) == 0 and jobs.status("anything") is None
    resp = _post_run(h, TOKEN)
    job_id = resp["response"]["strategy-job"]["data"]["id"]
    status = jobs.wait(job_id, timeout=60)
    assert status is not None and status.state == "succeeded"
    assert _count(h, BacktestRun) == 1


def test_http_read_only_without_a_configured_token(readonly_harness: DashHarness) -> None:
    h = readonly_harness
    lot = _open_lot(h)
    resp = h.call({"paper-close-confirm.submit_n_clicks": 1},
                  {"paper-close-target.data": {"position_id": lot}, "shell-token.value": "anything"})
    assert "KEVIN_DASH_TOKEN is not set" in text_of(resp)
    assert "KEVIN_DASH_TOKEN is not set" in text_of(_post_kill(h, True, "anything"))
    assert _count(h, ManualCloseRequest) == 0 and _state(h).trading_enabled is False


# --- nothing secret is rendered ------------------------------------------------------------------


def test_pages_and_callbacks_never_render_the_token(harness: DashHarness) -> None:
    h = harness
    _open_lot(h)
    seen = []
    for path in ("/strategy", "/paper-account", "/_dash-layout", "/_dash-dependencies"):
        resp = h.client.get(path)
        assert resp.status_code == 200
        seen.append(resp.get_data(as_text=True))
    for path in ("/strategy", "/paper-account"):
        seen.append(text_of(h.call({"_pages_location.pathname": path, "_pages_location.search": ""})))
    seen.append(text_of(_post_kill(h, False, TOKEN)))
    seen.append(text_of(h.call({"shell-token.value": TOKEN}, output="paper-risk")))
    assert all(TOKEN not in page for page in seen)
    assert "Exits only" in seen[-1]


def test_root_redirects_to_the_strategy_page(harness: DashHarness) -> None:
    resp = harness.client.get("/")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/strategy")


def test_layouts_of_an_empty_database_show_guidance_not_errors(harness: DashHarness) -> None:
    for path in ("/strategy", "/paper-account"):
        page = text_of(harness.call({"_pages_location.pathname": path, "_pages_location.search": ""}))
        assert "make demo" in page and "kevin backtest" in page
        assert "Traceback" not in page and "Could not load" not in page


def test_paper_layout_leaves_the_open_positions_to_the_token_callbacks_first_call(harness: DashHarness) -> None:
    """The positions table (a row of components per lot) is not in the layout the first chart waits
    for: the token callback's first call, which the page makes anyway, draws it, once."""
    with harness.kapp.transaction() as s:
        add_position(s, "AAPL", 10, "100.00", utc(2024, 1, 3, 14, 30))
    layout = text_of(harness.call({"_pages_location.pathname": "/paper-account", "_pages_location.search": ""}))
    assert "paper-positions" in layout and "paper-positions-table" not in layout and "AAPL" not in layout
    assert "paper-risk" in layout and "Kill switch" in layout  # the risk panel stays in the layout
    first = text_of(harness.call({"shell-token.value": None}, output="paper-positions"))
    assert "paper-positions-table" in first and "AAPL" in first and "paper-position-1" in first


def test_strategy_layout_reads_the_run_curves_only_to_draw_its_chart(harness: DashHarness) -> None:
    """The equity chart is kept once drawn, so a later first load reads the run's metrics, not its
    curves (two JSON lists of every session: most of the layout's time on five years of bars)."""
    warming = harness.dash_app.server.extensions["kevin_dash"].warmup
    if warming is not None:
        warming.join()
    with harness.kapp.transaction() as s:
        add_mention(s, "AAPL", "buy", utc(2024, 1, 2, 15))
        add_run(s, [("2024-01-02", 100_000.0), ("2024-01-03", 101_000.0)], [("2024-01-02", 100.0), ("2024-01-03", 100.5)],
                metrics={"total_return_pct": 1.0})
    statements: list[str] = []
    event.listen(harness.kapp.engine, "before_cursor_execute", lambda _c, _cur, statement, *_: statements.append(statement))
    for load in ("draws the chart", "finds it kept"):
        statements.clear()
        page = text_of(harness.call({"_pages_location.pathname": "/strategy", "_pages_location.search": ""}))
        assert "strategy-equity" in page and "run #1" in page, load
        assert any("equity_curve" in st for st in statements) == (load == "draws the chart"), (load, statements)


def test_a_database_error_shows_a_readable_notice_not_a_traceback(harness: DashHarness) -> None:
    with harness.kapp.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE price_bars")
    for path in ("/strategy", "/paper-account"):
        page = text_of(harness.call({"_pages_location.pathname": path, "_pages_location.search": ""}))
        assert "Could not load" in page and "no such table: price_bars" in page
        assert "Traceback" not in page and 'File \\"' not in page and str(harness.kapp.settings.state_dir) not in page


def test_one_dashboard_backtest_at_a_time_with_progress(harness: DashHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from kevin_dash import jobs as jobs_module

    release, reported = threading.Event(), threading.Event()
    real_execute = jobs_module.bt.execute

    def slow_execute(inputs, params, *, start=None, end=None, progress=None):  # type: ignore[no-untyped-def]
        progress(5, 20)
        reported.set()
        assert release.wait(30)
        return real_execute(inputs, params, start=start, end=end, progress=progress)

    monkeypatch.setattr(jobs_module.bt, "execute", slow_execute)
    _backtestable(harness)
    jobs = BacktestJobs(harness.kapp)
    try:
        first = actions.start_backtest(harness.kapp, jobs, TOKEN, actions.BacktestForm())
        assert first.ok and reported.wait(30)
        status = jobs.status(first.job_id)  # type: ignore[arg-type]
        assert status is not None and status.state == "running" and status.percent == 25
        second = actions.start_backtest(harness.kapp, jobs, TOKEN, actions.BacktestForm())
        assert not second.ok and "still running" in second.message
        release.set()
        assert jobs.wait(first.job_id, timeout=60).state == "succeeded"  # type: ignore[arg-type,union-attr]
        third = actions.start_backtest(harness.kapp, jobs, TOKEN, actions.BacktestForm())
        assert third.ok
        assert jobs.wait(third.job_id, timeout=60).state == "succeeded"  # type: ignore[arg-type,union-attr]
    finally:
        release.set()
        jobs.shutdown()
    assert _count(harness, BacktestRun) == 2


def test_http_a_token_with_unencodable_characters_is_refused_not_a_server_error(harness: DashHarness) -> None:
    # A lone surrogate arrives as JSON "\ud800" and cannot be encoded: refused like any wrong token.
    h = harness
    lot = _open_lot(h)
    for token in ("\ud800", TOKEN + "\udfff", "tökén-ñ-✓"):
        assert "Refused" in text_of(_post_kill(h, True, token))
        assert "Refused" in text_of(_post_resume(h, token))
        resp = h.call({"paper-close-confirm.submit_n_clicks": 1},
                      {"paper-close-target.data": {"position_id": lot}, "shell-token.value": token})
        assert "Refused" in text_of(resp)
    assert _count(h, ManualCloseRequest) == 0 and _state(h).trading_enabled is False


@pytest.mark.parametrize("env_enabled", [True, False])
def test_the_kill_switch_panel_shows_the_switch_as_the_order_path_reads_it(tmp_path: Path, env_enabled: bool) -> None:
    """Issue 11 item 3: the panel is built on trading.controls (mode in force, its meaning), so
    KEVIN_ENABLE_TRADING=false shows OFF whatever the runtime switch says, as the order path obeys."""
    kapp = make_kevin_runtime(tmp_path, enable_trading=env_enabled)
    h = DashHarness(kapp, create_app(kapp))
    try:
        for runtime in controls.MODES:
            with kapp.transaction() as s:
                controls.set_trading_mode(s, runtime)
            with kapp.sessions() as s:
                sw = controls.switches(s, env_enabled)
            page = text_of(h.call({"shell-token.value": TOKEN}, output="paper-risk"))
            assert sw.mode == (runtime if env_enabled else "off")
            assert f'"{sw.mode.upper()}"' in page and f"runtime switch {runtime}" in page and sw.meaning in page
    finally:
        h.close()
