--[[
  A Plivo request's slot (plivo-pacer.ts, includes/rate-slots.lua): `reserve` puts it in the
  pacer's line and asks for its turn; `ask` asks again, when the wait it was told is over (for
  its turn in the line, or for the guard once its slot was granted).

  KEYS:
    tat               the plan's next send time
    plan              booked send times
    sent              the guard's admitted requests
    answer            the average answer time
    pause             set while a 429's Retry-After lasts
    retry             the retry line's next place
    line              requests waiting for their turn, by priority then arrival
    seen              each waiter's last ask
    seq               the line's arrival counter
    fair              the turns of the request's class (accept.lua): the grant moves its 'vt'

  ARGV:
    op                reserve or ask
    interval_us       1/rate
    max               requests per window
    window_us         the guard's window
    margin_us         the plan's least slack beyond the window
    member            this request
    hold_us           how long an unreleased request counts
    priority          this request's priority (lower first: the intent job's BullMQ priority)
    lease_us          how long a waiter keeps its place without asking
    turn              the request's turn in its class (0: none)

  Returns:
    {'due'}           send now: admitted by the guard
    {'wait', ms}      ask again (op ask) in ms
]]
--- @include "rate-slots"

local p = {interval_us = tonumber(ARG.interval_us), max = tonumber(ARG.max), window_us = tonumber(ARG.window_us),
           margin_us = tonumber(ARG.margin_us), member = ARG.member, hold_us = tonumber(ARG.hold_us),
           priority = tonumber(ARG.priority), lease_us = tonumber(ARG.lease_us), turn = tonumber(ARG.turn)}
local wait
if ARG.op == 'reserve' then wait = reserve_slot(KEY, p) else wait = ask(KEY, now_us(), p) end
if wait == 0 then return {'due'} end
return {'wait', wait}
