--[[
  A Plivo request's slot (plivo-pacer.ts, includes/rate-slots.lua): `reserve` books it in the
  pacer's plan, and is admitted at once when it is due now; `admit` asks the guard, at the moment
  of sending, for a request whose booked slot was due later than its booking.

  KEYS:
    tat               the plan's next send time
    plan              booked send times
    sent              the guard's admitted requests
    answer            the average answer time
    pause             set while a 429's Retry-After lasts
    retry             the retry line's next place

  ARGV:
    op                reserve or admit
    interval_us       1/rate
    max               requests per window
    window_us         the guard's window
    margin_us         the plan's least slack beyond the window
    member            this request
    hold_us           how long an unreleased request counts

  Returns:
    {'due'}           send now: admitted by the guard
    {'wait', ms}      ask the guard again (op admit) in ms
]]
--- @include "rate-slots"

local k = {tat = KEY.tat, plan = KEY.plan, sent = KEY.sent, answer = KEY.answer, pause = KEY.pause, retry = KEY.retry}
local p = {interval_us = tonumber(ARG.interval_us), max = tonumber(ARG.max), window_us = tonumber(ARG.window_us),
           margin_us = tonumber(ARG.margin_us), member = ARG.member, hold_us = tonumber(ARG.hold_us)}
local wait
if ARG.op == 'reserve' then wait = reserve_slot(k, p) else wait = admit(k, now_us(), p) end
if wait == 0 then return {'due'} end
return {'wait', wait}
