-- wrk script for the minitwitd endpoints that need a different request each
-- time (bench/api/run).  Usage:
--
--   wrk -t2 -c32 -d15s --latency -s bench/api/rotate.lua http://HOST:PORT \
--       -- MODE [USERS] [NO] [CONTENT]
--
-- MODE        request
--   msgs_user   GET  /msgs/user<N>?no=NO
--   post_msg    POST /msgs/user<N>             {"content": "..."}
--   post_msg_latest
--               POST /msgs/user<N>?latest=<K>  the same, with the simulator's
--                                              ?latest= (one more statement)
--   fllws       POST /fllws/user<A>            {"follow": "user<B>"}, then
--               POST /fllws/user<A>            {"unfollow": "user<B>"}
--               (alternating, so the follower table does not grow)
-- USERS is the number of users (user1 .. userUSERS, default 10000), picked
-- uniformly at random with a per-thread seed; NO the ?no= of msgs_user
-- (default 20); CONTENT the text of the posted messages (bench/api/run
-- passes the one its pgbench scripts insert; no JSON escapes are added).
--
-- Every request carries the simulator's Authorization header.  No response()
-- callback: wrk would parse every response body for it.

local AUTH = "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh"

local nthreads = 0
function setup(thread)
	thread:set("tid", nthreads)
	nthreads = nthreads + 1
end

local mode, users, no, seq, pending
local get_headers, post_headers, post_msg_body

function init(args)
	mode = args[1] or "msgs_user"
	users = tonumber(args[2] or "10000")
	no = args[3] or "20"
	seq = 0
	math.randomseed(4242 + 7919 * (tid or 0))
	get_headers = { ["Authorization"] = AUTH }
	post_headers = { ["Authorization"] = AUTH, ["Content-Type"] = "application/json" }
	post_msg_body = '{"content": "' .. (args[4] or "Hello, world!") .. '"}'
	if mode ~= "msgs_user" and mode ~= "post_msg" and mode ~= "post_msg_latest"
		and mode ~= "fllws" then
		error("rotate.lua: unknown mode " .. tostring(mode))
	end
end

local function user()
	return "user" .. math.random(1, users)
end

function request()
	seq = seq + 1
	if mode == "msgs_user" then
		return wrk.format("GET", "/msgs/" .. user() .. "?no=" .. no, get_headers)
	elseif mode == "post_msg" then
		return wrk.format("POST", "/msgs/" .. user(), post_headers, post_msg_body)
	elseif mode == "post_msg_latest" then
		-- distinct, increasing per thread, like the simulator's row ids
		local latest = (tid or 0) * 100000000 + seq
		return wrk.format("POST", "/msgs/" .. user() .. "?latest=" .. latest, post_headers,
			post_msg_body)
	else	-- fllws
		local who, op
		if pending then
			who, op = pending, "unfollow"
			pending = nil
		else
			who, op = { user(), user() }, "follow"
			pending = who
		end
		return wrk.format("POST", "/fllws/" .. who[1], post_headers,
			'{"' .. op .. '": "' .. who[2] .. '"}')
	end
end
