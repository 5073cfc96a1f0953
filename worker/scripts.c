/* SPDX-License-Identifier: MIT */
/* The Lua sources. Field and key names come from common/keys.h, spelled once. */
#include "worker/scripts.h"

#include "common/keys.h"

struct tw_rs_script wrk_script_read, wrk_script_heads, wrk_script_begin, wrk_script_finish,
    wrk_script_note, wrk_script_keep, wrk_script_trim, wrk_script_deadack, wrk_script_leave;

/* True when id is still in the group's pending list and owned by consumer. */
#define LUA_MINE                                                                                   \
    "local function mine(stream, group, id, consumer)\n"                                           \
    "  local p = redis.call('XPENDING', stream, group, id, id, 1)\n"                               \
    "  return #p > 0 and p[1][2] == consumer\n"                                                    \
    "end\n"

static const char read_lua[] =
    "local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3],\n"
    "  'STREAMS', KEYS[1], '>')\n"
    "if not r or not r[1] or #r[1][2] == 0 then\n"
    "  local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)\n"
    "  if #last == 0 then return {'0-0', {}} end\n"
    "  return {last[1][1], {}}\n"
    "end\n"
    "local entries = r[1][2]\n"
    "if ARGV[4] ~= '' then\n"
    "  for _, e in ipairs(entries) do\n"
    "    local f = e[2]\n"
    "    for i = 1, #f, 2 do\n"
    "      if f[i] == ARGV[5] then\n"
    "        redis.call('RPUSH', ARGV[4] .. f[i + 1], e[1])\n"
    "        break\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return {'', entries}\n";

static const char heads_lua[] =
    LUA_MINE "local out = {}\n"
             "for i = 4, #ARGV, 2 do\n"
             "  local q, id, res = ARGV[3] .. ARGV[i], ARGV[i + 1], 0\n"
             "  if not mine(KEYS[1], ARGV[1], id, ARGV[2]) then\n"
             "    res = 2\n"
             "  else\n"
             "    while true do\n"
             "      local h = redis.call('LINDEX', q, 0)\n"
             "      if not h then\n"
             "        redis.call('RPUSH', q, id)\n"
             "        res = 1\n"
             "        break\n"
             "      end\n"
             "      if h == id then res = 1 break end\n"
             "      if #redis.call('XPENDING', KEYS[1], ARGV[1], h, h, 1) > 0 then break end\n"
             "      redis.call('LPOP', q)\n"
             "    end\n"
             "  end\n"
             "  out[#out + 1] = res\n"
             "end\n"
             "return out\n";

static const char begin_lua[] = LUA_MINE
    "if not mine(KEYS[1], ARGV[1], ARGV[3], ARGV[2]) then return {'lost'} end\n"
    "if redis.call('LINDEX', KEYS[2], 0) ~= ARGV[3] then return {'wait'} end\n"
    "local o = redis.call('HMGET', KEYS[3], '" TW_O_OUTCOME "', '" TW_O_STREAM_ID "')\n"
    "if o[1] == 'dispatched' or o[1] == 'skipped' then return {'done', o[1]} end\n"
    "if o[2] ~= ARGV[3] then\n"
    "  -- a new message, or a replay of one that failed: attempts start again\n"
    "  redis.call('DEL', KEYS[3])\n"
    "  redis.call('HSET', KEYS[3], '" TW_O_STREAM_ID "', ARGV[3], '" TW_O_ATTEMPTS "', 0,\n"
    "    'conversation_key', ARGV[5])\n"
    "elseif o[1] then\n"
    "  return {'done', o[1]}\n"
    "else\n"
    "  -- a retry not yet due (its worker died or handed it back while it waited): wait on\n"
    "  local at = tonumber(redis.call('HGET', KEYS[3], '" TW_O_NEXT_ATTEMPT_AT "'))\n"
    "  if at and at > tonumber(ARGV[4]) then return {'later', at - tonumber(ARGV[4])} end\n"
    "end\n"
    "local n = redis.call('HINCRBY', KEYS[3], '" TW_O_ATTEMPTS "', 1)\n"
    "redis.call('HSET', KEYS[3], '" TW_O_CONSUMER "', ARGV[2], '" TW_O_UPDATED_AT "', ARGV[4])\n"
    "redis.call('EXPIRE', KEYS[3], ARGV[6])\n"
    "return {'go', n}\n";

static const char finish_lua[] = LUA_MINE
    "if not mine(KEYS[1], ARGV[1], ARGV[3], ARGV[2]) then return {'lost'} end\n"
    "local attempts = redis.call('HGET', KEYS[3], '" TW_O_ATTEMPTS "')\n"
    "if ARGV[4] ~= '' and attempts ~= ARGV[4] then return {'stale'} end\n"
    "if ARGV[5] ~= '' then\n"
    "  local f = ARGV[5] == 'dispatched' and '" TW_O_RECEIPT "' or '" TW_O_REASON "'\n"
    "  redis.call('HSET', KEYS[3], '" TW_O_OUTCOME "', ARGV[5], f, ARGV[6],\n"
    "    '" TW_O_FINISHED_AT "', ARGV[7], '" TW_O_UPDATED_AT "', ARGV[7],\n"
    "    '" TW_O_STREAM_ID "', ARGV[3])\n"
    "  redis.call('HDEL', KEYS[3], '" TW_O_NEXT_ATTEMPT_AT "')\n"
    "  redis.call('EXPIRE', KEYS[3], ARGV[8])\n"
    "end\n"
    "if ARGV[9] == '1' then\n"
    "  local args = {}\n"
    "  local e = redis.call('XRANGE', KEYS[1], ARGV[3], ARGV[3])\n"
    "  if #e > 0 then\n"
    "    for _, v in ipairs(e[1][2]) do args[#args + 1] = v end\n"
    "  end\n"
    "  for _, v in ipairs({'" TW_D_REASON "', ARGV[6], '" TW_D_ATTEMPTS "', attempts or '0',\n"
    "      '" TW_D_FAILED_AT "', ARGV[7], '" TW_D_STREAM_ID "', ARGV[3],\n"
    "      '" TW_D_CONSUMER "', ARGV[2]}) do\n"
    "    args[#args + 1] = v\n"
    "  end\n"
    "  redis.call('XADD', KEYS[4], '*', unpack(args))\n"
    "end\n"
    "redis.call('XACK', KEYS[1], ARGV[1], ARGV[3])\n"
    "if redis.call('LINDEX', KEYS[2], 0) == ARGV[3] then\n"
    "  redis.call('LPOP', KEYS[2])\n"
    "else\n"
    "  redis.call('LREM', KEYS[2], 1, ARGV[3])\n"
    "end\n"
    "local nh = redis.call('LINDEX', KEYS[2], 0)\n"
    "if not nh then return {'ok', ''} end\n"
    "-- carry on with the conversation: its next entry waits in another consumer, idle\n"
    "if ARGV[10] == '1' then\n"
    "  local p = redis.call('XPENDING', KEYS[1], ARGV[1], nh, nh, 1)\n"
    "  if #p > 0 and p[1][2] ~= ARGV[2] then\n"
    "    return {'ok', nh, redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, nh)}\n"
    "  end\n"
    "end\n"
    "return {'ok', nh}\n";

static const char note_lua[] =
    "if redis.call('HGET', KEYS[1], '" TW_O_ATTEMPTS "') ~= ARGV[1] then return 0 end\n"
    "redis.call('HSET', KEYS[1], '" TW_O_LAST_ERROR "', ARGV[2], '" TW_O_NEXT_ATTEMPT_AT
    "', ARGV[3],\n"
    "  '" TW_O_UPDATED_AT "', ARGV[4])\n"
    "return 1\n";

static const char keep_lua[] = LUA_MINE
    "local lost = {}\n"
    "for i = 4, #ARGV do\n"
    "  if mine(KEYS[1], ARGV[1], ARGV[i], ARGV[2]) then\n"
    "    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')\n"
    "  else\n"
    "    lost[#lost + 1] = ARGV[i]\n"
    "  end\n"
    "end\n"
    "return lost\n";

static const char trim_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
    "local function before(a, b)\n"
    "  local am, as = string.match(a, '^(%d+)-(%d+)$')\n"
    "  local bm, bs = string.match(b, '^(%d+)-(%d+)$')\n"
    "  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)\n"
    "  return am < bm or (am == bm and as < bs)\n"
    "end\n"
    "local low = nil\n"
    "for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do\n"
    "  local info = {}\n"
    "  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end\n"
    "  local need = info['last-delivered-id']\n"
    "  if tonumber(info['pending']) > 0 then\n"
    "    need = redis.call('XPENDING', KEYS[1], info['name'])[2]\n"
    "  end\n"
    "  if not low or before(need, low) then low = need end\n"
    "end\n"
    "if not low then return 0 end\n"
    "return redis.call('XTRIM', KEYS[1], 'MINID', '~', low)\n";

static const char deadack_lua[] =
    "local args = {}\n"
    "local e = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])\n"
    "if #e > 0 then\n"
    "  for _, v in ipairs(e[1][2]) do args[#args + 1] = v end\n"
    "end\n"
    "for _, v in ipairs({'" TW_D_REASON "', ARGV[3], '" TW_D_ATTEMPTS "', ARGV[4],\n"
    "    '" TW_D_FAILED_AT "', ARGV[5], '" TW_D_STREAM_ID "', ARGV[2],\n"
    "    '" TW_D_CONSUMER "', ARGV[6]}) do\n"
    "  args[#args + 1] = v\n"
    "end\n"
    "redis.call('XADD', KEYS[2], '*', unpack(args))\n"
    "redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])\n"
    "return 1\n";

static const char leave_lua[] =
    "local ok, cs = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])\n"
    "if not ok then return 0 end\n"
    "for _, c in ipairs(cs) do\n"
    "  local info = {}\n"
    "  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end\n"
    "  if info['name'] == ARGV[2] then\n"
    "    if tonumber(info['pending']) ~= 0 then return 0 end\n"
    "    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])\n"
    "    return 1\n"
    "  end\n"
    "end\n"
    "return 0\n";

void wrk_scripts_init(void)
{
    tw_rs_script_init(&wrk_script_read, read_lua);
    tw_rs_script_init(&wrk_script_heads, heads_lua);
    tw_rs_script_init(&wrk_script_begin, begin_lua);
    tw_rs_script_init(&wrk_script_finish, finish_lua);
    tw_rs_script_init(&wrk_script_note, note_lua);
    tw_rs_script_init(&wrk_script_keep, keep_lua);
    tw_rs_script_init(&wrk_script_trim, trim_lua);
    tw_rs_script_init(&wrk_script_deadack, deadack_lua);
    tw_rs_script_init(&wrk_script_leave, leave_lua);
}
