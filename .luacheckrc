-- luacheck for holdq's Redis scripts, as Redis runs them: `npm run lint:lua` assembles each
-- script (its bindings, its includes, its inserts) and lints the result (scripts/lint-lua.mjs).
std = 'lua51'
read_globals = { 'redis', 'cjson', 'cmsgpack', 'KEYS', 'ARGV' }
max_line_length = 160
-- An include may bring more than one script needs (rate-slots: reserve and admit; clock: both
-- helpers; queue-events: the joins, takes, leaves and call events of every script that changes a queue;
-- record-fields: the accept reads only the sequence number).
ignore = {
  '211/reserve_slot', '211/set_until',
  '211/queue_join', '211/record_take', '211/queue_left', '211/call_events',
  '211/record_status',
}
