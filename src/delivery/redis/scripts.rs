//! The Lua scripts behind every change to the Redis spool. Each runs atomically in Redis, so a
//! change is all-or-nothing and no two consumers ever see a delivery half moved; each checks
//! everything before its first write, because Redis does not roll back a script that fails.
//!
//! Every script takes the key prefix as ARGV[1]. Keys (P = prefix):
//! - `P routes`: set of route names, so counts and purges find every route.
//! - `P bytes`: bytes held, as charged against `max_bytes`.
//! - `P d:<id>`: hash per delivery: `meta` (postcard, immutable), `body`, and the mutable fields
//!   `route state due attempt age_from received size entry reason dead_at has_last last_status
//!   last_error`; `state` is `ready` (in the stream, unread), `flight` (read by a consumer),
//!   `sched` (waiting in the retry set) or `dead`; `entry` is its id in the stream it is in.
//! - `P s:<route>`: stream of deliveries due, consumer group `hookguard`.
//! - `P r:<route>`: sorted set of scheduled retries, score = due ms.
//! - `P q:<route>`: sorted set of pending deliveries (ready or sched), score = received ms,
//!   so pending counts and the oldest pending age cost no scan.
//! - `P x:<route>`: stream of dead letters.

/// Shared helpers, prepended to every script.
const LIB: &str = r#"
local P = ARGV[1]
local G = 'hookguard'
local ROUTES = P .. 'routes'
local BYTES = P .. 'bytes'
local function rec(id) return P .. 'd:' .. id end
local function ready(route) return P .. 's:' .. route end
local function sched(route) return P .. 'r:' .. route end
local function waiting(route) return P .. 'q:' .. route end
local function deadq(route) return P .. 'x:' .. route end

local function ensure(route)
  if redis.call('EXISTS', ready(route)) == 0 then
    redis.call('XGROUP', 'CREATE', ready(route), G, '0', 'MKSTREAM')
  end
  redis.call('SADD', ROUTES, route)
end

local function push(id, route)
  ensure(route)
  local entry = redis.call('XADD', ready(route), '*', 'id', id)
  redis.call('HSET', rec(id), 'state', 'ready', 'entry', entry)
end

local function unstream(route, entry)
  redis.call('XACK', ready(route), G, entry)
  redis.call('XDEL', ready(route), entry)
end

local function forget(id, size)
  redis.call('DEL', rec(id))
  redis.call('DECRBY', BYTES, size)
end

local function replay(id, now)
  local r = rec(id)
  local v = redis.call('HMGET', r, 'state', 'route', 'entry', 'received')
  if v[1] ~= 'dead' then return 0 end
  redis.call('XDEL', deadq(v[2]), v[3])
  redis.call('HSET', r, 'attempt', '0', 'age_from', now, 'due', now)
  redis.call('HDEL', r, 'reason', 'dead_at')
  redis.call('ZADD', waiting(v[2]), v[4], id)
  push(id, v[2])
  return 1
end

-- A consumer with nothing pending loses nothing when deleted, and one still alive is made
-- again by its next read; without this every restart of every replica leaves one behind.
local function prune(route, consumer, idle_ms)
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', ready(route), G)) do
    local f = {}
    for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
    if f['name'] ~= consumer and f['pending'] == 0 and f['idle'] > idle_ms then
      redis.call('XGROUP', 'DELCONSUMER', ready(route), G, f['name'])
    end
  end
end

local function drop(id)
  local v = redis.call('HMGET', rec(id), 'state', 'route', 'entry', 'size')
  if v[1] ~= 'dead' then return 0 end
  redis.call('XDEL', deadq(v[2]), v[3])
  forget(id, v[4])
  return 1
end
"#;

/// ARGV: prefix, route, id, size, max_bytes, meta, body, received ms. 1, or 0 when full, or -1
/// when the id is taken (two replicas in the same millisecond with the same random bits).
const ENQUEUE: &str = r#"
local route, id, size = ARGV[2], ARGV[3], tonumber(ARGV[4])
if redis.call('EXISTS', rec(id)) == 1 then return -1 end
local held = tonumber(redis.call('GET', BYTES) or '0')
if held + size > tonumber(ARGV[5]) then return 0 end
redis.call('HSET', rec(id), 'route', route, 'meta', ARGV[6], 'body', ARGV[7], 'size', ARGV[4],
  'received', ARGV[8], 'age_from', ARGV[8], 'due', ARGV[8], 'attempt', '0')
redis.call('INCRBY', BYTES, size)
redis.call('ZADD', waiting(route), ARGV[8], id)
push(id, route)
return 1
"#;

/// ARGV: prefix, route, now ms, limit, stale ms, consumer.
/// Rows of {id, meta, body, attempt, age_from, due}.
const CLAIM: &str = r#"
local route, limit, consumer = ARGV[2], tonumber(ARGV[4]), ARGV[6]
for _, id in ipairs(redis.call('ZRANGEBYSCORE', sched(route), '-inf', ARGV[3])) do
  redis.call('ZREM', sched(route), id)
  push(id, route)
end
if redis.call('EXISTS', ready(route)) == 0 then return {} end
local taken = {}
local function take(entry)
  local fields = entry[2]
  if not fields then return end
  local id = fields[2]
  local r = rec(id)
  if redis.call('HGET', r, 'entry') ~= entry[1] then
    unstream(route, entry[1])
    return
  end
  redis.call('HSET', r, 'state', 'flight')
  redis.call('ZREM', waiting(route), id)
  local v = redis.call('HMGET', r, 'meta', 'body', 'attempt', 'age_from', 'due')
  table.insert(taken, {id, v[1], v[2], v[3], v[4], v[5]})
end
prune(route, consumer, tonumber(ARGV[5]))
local stale = redis.call('XAUTOCLAIM', ready(route), G, consumer, ARGV[5], '0-0', 'COUNT', limit)
for _, entry in ipairs(stale[2]) do take(entry) end
if #taken < limit then
  local fresh = redis.call('XREADGROUP', 'GROUP', G, consumer, 'COUNT', limit - #taken,
    'STREAMS', ready(route), '>')
  if fresh then
    for _, entry in ipairs(fresh[1][2]) do take(entry) end
  end
end
return taken
"#;

/// ARGV: prefix, id. 1, or 0 when not in flight.
const DELIVERED: &str = r#"
local v = redis.call('HMGET', rec(ARGV[2]), 'state', 'route', 'entry', 'size')
if v[1] ~= 'flight' then return 0 end
unstream(v[2], v[3])
forget(ARGV[2], v[4])
return 1
"#;

/// ARGV: prefix, id, due ms, last status ('' for none), last error. 1, or 0 when not in flight.
const RETRY: &str = r#"
local id = ARGV[2]
local r = rec(id)
local v = redis.call('HMGET', r, 'state', 'route', 'entry', 'received')
if v[1] ~= 'flight' then return 0 end
unstream(v[2], v[3])
redis.call('HINCRBY', r, 'attempt', 1)
redis.call('HSET', r, 'state', 'sched', 'due', ARGV[3], 'has_last', '1',
  'last_status', ARGV[4], 'last_error', ARGV[5])
redis.call('HDEL', r, 'entry')
redis.call('ZADD', sched(v[2]), ARGV[3], id)
redis.call('ZADD', waiting(v[2]), v[4], id)
return 1
"#;

/// ARGV: prefix, id, reason, now ms, has last ('1'/'0'), last status, last error.
/// 1, or 0 when neither pending nor in flight.
const DEAD: &str = r#"
local id = ARGV[2]
local r = rec(id)
local v = redis.call('HMGET', r, 'state', 'route', 'entry')
local state, route = v[1], v[2]
if state == 'ready' then
  unstream(route, v[3])
elseif state == 'sched' then
  redis.call('ZREM', sched(route), id)
elseif state == 'flight' then
  unstream(route, v[3])
  redis.call('HINCRBY', r, 'attempt', 1)
else
  return 0
end
redis.call('ZREM', waiting(route), id)
if ARGV[5] == '1' then
  redis.call('HSET', r, 'has_last', '1', 'last_status', ARGV[6], 'last_error', ARGV[7])
end
local entry = redis.call('XADD', deadq(route), '*', 'id', id)
redis.call('HSET', r, 'state', 'dead', 'reason', ARGV[3], 'dead_at', ARGV[4], 'entry', entry)
return 1
"#;

/// ARGV: prefix, id, now ms. 1, or 0 when not dead.
const REPLAY: &str = "return replay(ARGV[2], ARGV[3])";

/// ARGV: prefix, route, now ms. How many were replayed.
const REPLAY_ROUTE: &str = r#"
local n = 0
for _, e in ipairs(redis.call('XRANGE', deadq(ARGV[2]), '-', '+')) do
  n = n + replay(e[2][2], ARGV[3])
end
return n
"#;

/// ARGV: prefix, id. 1, or 0 when not dead.
const DROP_DEAD: &str = "return drop(ARGV[2])";

/// ARGV: prefix, before ms. How many were dropped.
const PURGE: &str = r#"
local before, n = tonumber(ARGV[2]), 0
for _, route in ipairs(redis.call('SMEMBERS', ROUTES)) do
  for _, e in ipairs(redis.call('XRANGE', deadq(route), '-', '+')) do
    local at = tonumber(redis.call('HGET', rec(e[2][2]), 'dead_at') or '')
    if at and at < before then n = n + drop(e[2][2]) end
  end
end
return n
"#;

/// ARGV: prefix, one route ('1'/'0'), route, limit. The oldest received dead letters as rows of
/// {id, route, meta, attempt, reason, dead_at, has_last, last_status, last_error, size}.
const DEAD_LETTERS: &str = r#"
local routes
if ARGV[2] == '1' then routes = {ARGV[3]} else routes = redis.call('SMEMBERS', ROUTES) end
local ids = {}
for _, route in ipairs(routes) do
  for _, e in ipairs(redis.call('XRANGE', deadq(route), '-', '+')) do
    table.insert(ids, e[2][2])
  end
end
table.sort(ids)
local out = {}
for i = 1, math.min(#ids, tonumber(ARGV[4])) do
  local v = redis.call('HMGET', rec(ids[i]), 'route', 'meta', 'attempt', 'reason', 'dead_at',
    'has_last', 'last_status', 'last_error', 'size')
  table.insert(out, {ids[i], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]})
end
return out
"#;

/// ARGV: prefix. {bytes, rows of {route, pending, in flight, dead, oldest pending received ms}}.
const COUNTS: &str = r#"
local rows = {}
for _, route in ipairs(redis.call('SMEMBERS', ROUTES)) do
  local flight = 0
  if redis.call('EXISTS', ready(route)) == 1 then
    flight = redis.call('XPENDING', ready(route), G)[1]
  end
  local oldest = redis.call('ZRANGE', waiting(route), 0, 0, 'WITHSCORES')[2] or ''
  table.insert(rows, {route, tostring(redis.call('ZCARD', waiting(route))), tostring(flight),
    tostring(redis.call('XLEN', deadq(route))), oldest})
end
return {redis.call('GET', BYTES) or '0', rows}
"#;

/// Every script, loaded once per spool.
pub(super) struct Scripts {
    pub enqueue: ::redis::Script,
    pub claim: ::redis::Script,
    pub delivered: ::redis::Script,
    pub retry: ::redis::Script,
    pub dead: ::redis::Script,
    pub replay: ::redis::Script,
    pub replay_route: ::redis::Script,
    pub drop_dead: ::redis::Script,
    pub purge: ::redis::Script,
    pub dead_letters: ::redis::Script,
    pub counts: ::redis::Script,
}

fn script(body: &str) -> ::redis::Script {
    ::redis::Script::new(&format!("{LIB}\n{body}"))
}

impl Scripts {
    pub fn new() -> Self {
        Scripts {
            enqueue: script(ENQUEUE),
            claim: script(CLAIM),
            delivered: script(DELIVERED),
            retry: script(RETRY),
            dead: script(DEAD),
            replay: script(REPLAY),
            replay_route: script(REPLAY_ROUTE),
            drop_dead: script(DROP_DEAD),
            purge: script(PURGE),
            dead_letters: script(DEAD_LETTERS),
            counts: script(COUNTS),
        }
    }
}
