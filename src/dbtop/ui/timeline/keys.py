"""The keys that move through time, the same live (history) and in replay:
``[`` ``]`` one sample, ``{`` ``}`` one minute, ``g`` go to a time, ``L`` back to live (the
end of a replay), ``<`` ``>`` the replay's speed; space (the screen's pause) plays and
pauses a replay.

A mixin of the main screen (its bindings are added to the screen's list), so the keys are
off while a dialog is open, like every other key of the screen.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, cast

from textual.binding import Binding

from dbtop.errors import UsageError
from dbtop.poller import PollResult
from dbtop.recording import timespec
from dbtop.ui.timeline.base import OFF_IN_THE_PAST, moment
from dbtop.ui.timeline.goto import GoToScreen

if TYPE_CHECKING:
    from dbtop.ui.screens.main import MainScreen

TIMELINE_BINDINGS = [
    Binding("left_square_bracket", "timeline_step(-1)", "Sample back", id="time.back", show=False),
    Binding("right_square_bracket", "timeline_step(1)", "Sample on", id="time.forward", show=False),
    Binding(
        "left_curly_bracket", "timeline_jump(-60)", "Minute back", id="time.minute-back", show=False
    ),
    Binding(
        "right_curly_bracket",
        "timeline_jump(60)",
        "Minute on",
        id="time.minute-forward",
        show=False,
    ),
    Binding("g", "timeline_goto", "Go to time", id="time.goto", show=False),
    Binding("L", "timeline_live", "Live", id="time.live", show=False),
    Binding("less_than_sign", "timeline_speed(-1)", "Slower replay", id="time.slower", show=False),
    Binding(
        "greater_than_sign", "timeline_speed(1)", "Faster replay", id="time.faster", show=False
    ),
]


#: what a screen key does in a replay, where it differs from live (the footer says it)
REPLAY_LABELS = {"pause": "Play/pause"}


class TimelineActions:
    """The main screen's time keys; the screen calls :meth:`timeline_check` from its
    check_action and :meth:`timeline_refusal` from its refusal."""

    def _screen(self) -> MainScreen:
        return cast("MainScreen", self)

    def label_timeline_keys(self) -> None:
        """In a replay, the footer names what a key does there (space plays and pauses)."""
        screen = self._screen()
        if not screen.dbtop.timeline.replay:
            return
        bindings = screen._bindings  # the screen's own copy of its class's bindings
        for key, listed in bindings.key_to_bindings.items():
            bindings.key_to_bindings[key] = [
                dataclasses.replace(b, description=REPLAY_LABELS[b.action])
                if b.action in REPLAY_LABELS
                else b
                for b in listed
            ]
        screen.refresh_bindings()

    def timeline_check(self, action: str) -> bool:
        """False when ``action`` acts on the server and the screen shows the past (and for
        the refresh interval in a replay, which has none)."""
        timeline = self._screen().dbtop.timeline
        if action == "interval" and timeline.replay:
            return False
        return not (action in OFF_IN_THE_PAST and timeline.in_past)

    def timeline_refusal(self, action: str) -> str | None:
        timeline = self._screen().dbtop.timeline
        name = action.split("(", 1)[0]
        if name == "interval" and timeline.replay:
            return "a replay has no refresh interval: < and > set its speed"
        if name in OFF_IN_THE_PAST and timeline.in_past:
            return timeline.refusal
        return None

    def _show(self, result: PollResult | None) -> None:
        screen = self._screen()
        if result is None:
            screen.say("no history yet: it is kept from the first snapshot on", severity="warning")
            return
        screen.dbtop.show_past(result)
        screen.timeline_moved()

    def action_timeline_step(self, samples: int) -> None:
        timeline = self._screen().dbtop.timeline
        target = timeline.after_step(samples)
        if target is not None and target == timeline.position() and timeline.in_past:
            edge = "first" if samples < 0 else "last"
            self._screen().say(f"that is the {edge} sample", timeout=2)
            return
        self._show(None if target is None else timeline.go(target))

    def action_timeline_jump(self, seconds: float) -> None:
        timeline = self._screen().dbtop.timeline
        target = timeline.after_seconds(seconds)
        self._show(None if target is None else timeline.go(target))

    def action_timeline_live(self) -> None:
        timeline = self._screen().dbtop.timeline
        self._show(timeline.live_result())
        if not timeline.replay:
            self._screen().say("live", timeout=2)

    def action_timeline_speed(self, step: int) -> None:
        # imported here: a live start-up (the time to a first row) does not need the
        # recording reader it brings
        from dbtop.ui.timeline.replay import RecordingTimeline

        timeline = self._screen().dbtop.timeline
        if not isinstance(timeline, RecordingTimeline):
            self._screen().say("the speed is the replay's: the live history has none", timeout=2)
            return
        speed = timeline.cycle_speed(step)
        self._screen().say(f"replay at {speed:g}×", timeout=2)
        self._screen().timeline_moved()

    def action_timeline_goto(self) -> None:
        screen = self._screen()
        timeline = screen.dbtop.timeline
        times = timeline.times
        if not times:
            self._show(None)
            return
        first, last = moment(times[0]), moment(times[-1])

        def chosen(text: str | None) -> None:
            if not text:
                return
            try:
                when = timespec.moment(text, first, last)
            except UsageError as exc:
                screen.say(str(exc), severity="warning")
                return
            target = timeline.at_or_before(when.timestamp())
            if target is None or when < first:
                screen.say(
                    f"before the first sample ({first.astimezone():%H:%M:%S})", severity="warning"
                )
                return
            self._show(timeline.go(target))

        span = f"{first.astimezone():%Y-%m-%d %H:%M:%S} to {last.astimezone():%H:%M:%S}"
        screen.app.push_screen(GoToScreen(span), chosen)

    def timeline_moved(self) -> None:
        """After a move (or at mount): the time bar shows in replay and while in the past,
        the header says where, and the keys that act on the server follow."""
        screen = self._screen()
        timeline = screen.dbtop.timeline
        from dbtop.ui.widgets.header import Header
        from dbtop.ui.widgets.timebar import TimeBar

        bar = screen.query_one(TimeBar)
        bar.display = timeline.replay or timeline.in_past
        bar.refresh()
        header = screen.query_one(Header)
        header.tick()
        header.refresh()
        screen.refresh_bindings()
