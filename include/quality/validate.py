"""Run a data-quality suite with Great Expectations against the platform database, and say what failed.

An ephemeral Great Expectations context per run (nothing written to disk, no usage statistics): a SQL data
source on the platform database through SQLAlchemy's psycopg 3 dialect, the suite's query as a query asset, the
expectations validated in PostgreSQL. A finding names the expectation, its column(s), how many rows failed and
up to `EXAMPLES` of them by the suite's id columns, so a person can go to the row.
"""

from __future__ import annotations

import os
import time
import warnings
from decimal import Decimal

import psycopg
from psycopg.rows import dict_row
from pydantic import BaseModel, ConfigDict

from include.quality.suites import SUITES, Suite

EXAMPLES = 5


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    expectation: str
    columns: list[str]
    unexpected_count: int
    examples: list[str]

    def line(self) -> str:
        return (f"{self.expectation}({', '.join(self.columns)}): {self.unexpected_count} row(s), e.g. "
                f"{'; '.join(self.examples) or 'no example'}")


class SuiteResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    suite: str
    rows: int
    expectations: int
    findings: list[Finding]
    seconds: float

    @property
    def success(self) -> bool:
        return not self.findings

    def lines(self) -> list[str]:
        head = (f"{self.suite}: {'passed' if self.success else 'FAILED'}, {self.expectations} expectations on "
                f"{self.rows} rows in {self.seconds:.2f} s")
        return [head, *(f"  {f.line()}" for f in self.findings)]


def suite_named(name: str) -> Suite:
    try:
        return next(s for s in SUITES if s.name == name)
    except StopIteration:
        raise KeyError(f"no data-quality suite {name!r}; there are {', '.join(s.name for s in SUITES)}") from None


def sqlalchemy_url(db_url: str) -> str:
    """The psycopg 3 dialect for a libpq URL; `$` escaped, which Great Expectations would read as a variable."""
    for scheme in ("postgresql://", "postgres://"):
        if db_url.startswith(scheme):
            db_url = "postgresql+psycopg://" + db_url[len(scheme):]
    return db_url.replace("$", r"\$")


def validate(db_url: str, suite: Suite) -> SuiteResult:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.datasource.fluent.interfaces import GxDatasourceWarning

    started = time.monotonic()
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        query = suite.query(conn).as_string(conn)
        rows = conn.execute(f"SELECT count(*) AS n FROM ({query}) q").fetchone()["n"]
        expectations = []
        for expect in suite.expectations:
            args = dict(expect.args)
            if expect.value_set is not None:
                args["value_set"] = expect.value_set(conn)
            expectations.append(getattr(gx.expectations, expect.kind)(**args))

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    with warnings.catch_warnings():
        # The generic SQL source on purpose: the Postgres one refuses a socket directory as host (pgserver's).
        warnings.simplefilter("ignore", GxDatasourceWarning)
        source = context.data_sources.add_sql(name="ticketpilot", connection_string=sqlalchemy_url(db_url))
    try:
        batch = source.add_query_asset(name=suite.name, query=query).add_batch_definition_whole_table("all")
        result = batch.get_batch().validate(gx.ExpectationSuite(name=suite.name, expectations=expectations),
                                            result_format={"result_format": "COMPLETE",
                                                           "unexpected_index_column_names": list(suite.ids)})
    finally:
        source.get_engine().dispose()
    findings = [_finding(r, suite) for r in result.results if not r.success]
    return SuiteResult(suite=suite.name, rows=rows, expectations=len(expectations), findings=findings,
                       seconds=round(time.monotonic() - started, 3))


def validate_all(db_url: str) -> list[SuiteResult]:
    return [validate(db_url, suite) for suite in SUITES]


def _finding(result: object, suite: Suite) -> Finding:
    config = result.expectation_config  # type: ignore[attr-defined]
    detail = result.result or {}  # type: ignore[attr-defined]
    if result.exception_info and result.exception_info.get("raised_exception"):  # type: ignore[attr-defined]
        message = result.exception_info.get("exception_message", "")  # type: ignore[attr-defined]
        return Finding(expectation=config.type, columns=_columns(config.kwargs), unexpected_count=0,
                       examples=[f"could not be evaluated: {message}"])
    indexed = detail.get("unexpected_index_list") or []
    values = detail.get("partial_unexpected_list") or []
    examples = [", ".join(f"{k}={_short(v)}" for k, v in row.items()) for row in indexed[:EXAMPLES]] if indexed \
        else [_short(v) for v in values[:EXAMPLES]]
    return Finding(expectation=config.type, columns=_columns(config.kwargs),
                   unexpected_count=int(detail.get("unexpected_count") or 0), examples=examples)


def _short(value: object) -> str:
    """A failing row's value as a person reads it: hashes cut, seconds whole, decimals without trailing zeros."""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, float):
        return f"{value:.0f}"
    text = str(value)
    return text if len(text) <= 40 else text[:12] + "…"


def _columns(kwargs: dict[str, object]) -> list[str]:
    return [str(kwargs[k]) for k in ("column", "column_A", "column_B") if kwargs.get(k)]
