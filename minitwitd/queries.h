/*
 * queries: every SQL statement minitwitd runs per request, in one table, so
 * that each pooled connection prepares them all once (db.c) and every value
 * is a parameter.  The simulator API (api.c) and the web UI (web.c, websess.c)
 * both index this table with enum query.
 */
#ifndef QUERIES_H
#define QUERIES_H

#include "db.h"

enum query {
	/* simulator API */
	Q_SET_LATEST, Q_GET_LATEST, Q_USER_EXISTS, Q_REGISTER, Q_MSGS, Q_MSGS_USER,
	Q_POST_MSG, Q_FOLLOW, Q_UNFOLLOW, Q_FOLLOWS, Q_PING,
	/* web sessions */
	Q_SESSION_GET, Q_SESSION_NEW, Q_SESSION_DELETE, Q_SESSION_FLASH_ADD,
	Q_SESSION_FLASH_POP, Q_SESSION_GC,
	/* web pages */
	Q_WEB_LOGIN_USER, Q_WEB_PW_UPGRADE, Q_WEB_PUBLIC, Q_WEB_USER_PAGE, Q_WEB_MY_TIMELINE,
	Q_WEB_FOLLOW, Q_WEB_UNFOLLOW, Q_WEB_ADD_MESSAGE,
	Q_COUNT
};

extern const struct db_stmt queries[Q_COUNT];

#endif
