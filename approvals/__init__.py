"""Approval chains as data, and the one engine that runs them.

An approval policy (approvals.policy) is an ordered list of stages HQ designs; the engine
(approvals.engine) answers, without I/O, which stage comes next, who may decide now, whether a
vote completes the stage and what a timeout does. The partner campaign workflow embeds it; a
co-op claim or a print order can embed the same chain (it knows nothing of campaigns: the
object is a `Target` and the facts its conditions read). The API's checks, the inbox, the
portal, the one-click links and the notifications all ask the same functions.
"""
