// Generated from /openapi.json by openapi-typescript (node scripts/client-schema.mjs); do not edit.

export interface paths {
    "/v1/intents": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Dead letters: failed intents, newest first */
        get: operations["listFailedIntents"];
        put?: never;
        /**
         * Accept an intent
         * @description Validates and stores the intent, then answers 202 at once. A worker carries it out.
         */
        post: operations["createIntent"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/intents/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Read an intent */
        get: operations["getIntent"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/intents/{id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Run a failed intent again (ADMIN_KEYS only) */
        post: operations["retryIntent"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/calls": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Calls on hold, longest held first, page by page */
        get: operations["listHeldCalls"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/calls/{call_uuid}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** What holdq knows of a call */
        get: operations["getCall"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/queues": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Queues with their depth and oldest wait, page by page in name order
         * @description Configured queues, and those created on demand until they have been empty for QUEUE_IDLE_SECONDS.
         */
        get: operations["listQueues"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/queues/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A queue and its members in service order */
        get: operations["getQueue"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The account's events, live (Server-Sent Events)
         * @description A text/event-stream of the caller's account's events. Each is `id:` (a stream id, `<ms>-<seq>`, strictly increasing), `event:` (its type) and `data:` (JSON with `type`, `at` and the fields below). Reconnect with the last id seen as Last-Event-ID (or last_event_id) to receive every event after it that is still kept (EVENTS_RETENTION), then the live ones, none missing or repeated; an id older than what is kept (trimmed, or lost with its Redis) gets one `event: reset` first, with an id of its own to resume from (fetch the state again), then the live events. A comment line comes at least every 15 s. Event types: intent.accepted, intent.completed, intent.failed, intent.superseded, call.held, call.unheld, call.bridged, call.ended, queue.joined, queue.position, queue.left, callback.requested, callback.dialing, callback.connected, callback.failed. intent.*: intent_id, intent_type, call_uuid, client (accepted), queue (when the intent names one), error (failed). call.*: call_uuid, intent_id (when an intent made the change), legs (held, unheld). queue.joined, queue.position: call_uuid, queue, position, estimated_wait_seconds (null while the queue has too little history); queue.position goes to the first 100 members. queue.left: call_uuid, queue, reason (bridged, abandoned, overflow, callback, or moved when an intent took the caller elsewhere), wait_seconds.
         */
        get: operations["streamEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/wallboard/session": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The wallboard session of this browser's cookie */
        get: operations["getWallboardSession"];
        put?: never;
        /**
         * Sign in to the wallboard: exchange a key for a session cookie
         * @description The key goes in the body (JSON, or a form posted by the page), never in a URL. Any valid key will do (READ_KEYS is enough). The answer sets `holdq_wallboard` (HttpOnly, SameSite=Strict, Path=/v1, Secure over https), which then authenticates GET and HEAD under /v1 for the key's account, and nothing else: any other method with the cookie alone is 403. The session ends WALLBOARD_SESSION_SECONDS after sign-in, at sign-out, or when its key is removed or changes role or account. A request a browser makes from another site (Sec-Fetch-Site, Origin) is 403. Ten failed sign-ins from one address in a minute: 429 for the rest of that minute.
         */
        post: operations["openWallboardSession"];
        /** Sign out: the session ends on every replica, and the cookie is cleared */
        delete: operations["closeWallboardSession"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/livez": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The process is up
         * @description Names the service and this instance (a random id per process), so a start-up check can tell holdq from anything else.
         */
        get: operations["livez"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Ready to take work */
        get: operations["readyz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus metrics */
        get: operations["metrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** @description The process is up; instance is a random id per process */
        Live: {
            /** @constant */
            status: "ok";
            /** @constant */
            service: "holdq";
            instance: string;
        };
        /** @description not_ready (503) while Redis is unreachable or shutdown has begun */
        Ready: {
            /** @enum {string} */
            status: "ready" | "not_ready";
            /** @enum {string} */
            plivo: "simulator" | "plivo";
            /** @description redis, shutdown, plivo and the start-up findings (public_base_url, redis_persistence, redis_eviction) */
            checks: {
                [key: string]: string;
            };
        };
        Transfer: {
            call_uuid: string;
            /** @enum {string} */
            legs: "aleg" | "bleg" | "both";
            aleg_url?: string;
            /** @enum {string} */
            aleg_method?: "GET" | "POST";
            bleg_url?: string;
            /** @enum {string} */
            bleg_method?: "GET" | "POST";
            /** @description Plivo HTTP status; null for a timeout or a reset */
            status_code: number | null;
            api_id: string | null;
            /** Format: date-time */
            at: string;
            error?: string;
        };
        /** @description The intent record: the request fields, then the record fields. */
        Intent: {
            /** @constant */
            type: "hold";
            call_uuid: string;
            /**
             * @default aleg
             * @enum {string}
             */
            legs: "aleg" | "bleg" | "both";
            music?: string;
            /** @description an absolute http(s) URL, in its normalised (WHATWG) form */
            callback_url?: string;
            /** Format: uuid */
            id: string;
            /** @description position in its call's line of intents */
            sequence: number;
            client: string;
            /**
             * @description the class it is served in while work waits for Plivo's rate (urgent: dequeue, unhold; interactive: hold; queueing: enqueue and overflows; bulk: transfer), unless API_KEY_CLASSES puts the key's intents in one class; within a class, clients take turns
             * @enum {string}
             */
            class: "urgent" | "interactive" | "queueing" | "bulk";
            /** @enum {string} */
            status: "queued" | "running" | "completed" | "failed" | "superseded";
            attempts: number;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            updated_at: string;
            finished_at: string | null;
            transfers: components["schemas"]["Transfer"][];
            error: {
                /** @enum {string} */
                code: "call_not_found" | "upstream_rejected" | "upstream_unavailable" | "transfer_limit" | "not_on_hold" | "bleg_unknown" | "invalid_intent" | "queue_full" | "queue_empty" | "not_queued" | "number_unknown" | "outcome_unknown" | "worker_failed";
                message: string;
            } | null;
        } | {
            /** @constant */
            type: "unhold";
            call_uuid: string;
            /** @description an absolute http(s) URL, in its normalised (WHATWG) form */
            callback_url?: string;
            /** Format: uuid */
            id: string;
            /** @description position in its call's line of intents */
            sequence: number;
            client: string;
            /**
             * @description the class it is served in while work waits for Plivo's rate (urgent: dequeue, unhold; interactive: hold; queueing: enqueue and overflows; bulk: transfer), unless API_KEY_CLASSES puts the key's intents in one class; within a class, clients take turns
             * @enum {string}
             */
            class: "urgent" | "interactive" | "queueing" | "bulk";
            /** @enum {string} */
            status: "queued" | "running" | "completed" | "failed" | "superseded";
            attempts: number;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            updated_at: string;
            finished_at: string | null;
            transfers: components["schemas"]["Transfer"][];
            error: {
                /** @enum {string} */
                code: "call_not_found" | "upstream_rejected" | "upstream_unavailable" | "transfer_limit" | "not_on_hold" | "bleg_unknown" | "invalid_intent" | "queue_full" | "queue_empty" | "not_queued" | "number_unknown" | "outcome_unknown" | "worker_failed";
                message: string;
            } | null;
        } | {
            /** @constant */
            type: "enqueue";
            call_uuid: string;
            queue: string;
            /** @default 0 */
            priority: number;
            max_wait_seconds?: number;
            /** @description a queue name, or an absolute http(s) URL */
            overflow?: string;
            /** @description an absolute http(s) URL, in its normalised (WHATWG) form */
            callback_url?: string;
            /** Format: uuid */
            id: string;
            /** @description position in its call's line of intents */
            sequence: number;
            client: string;
            /**
             * @description the class it is served in while work waits for Plivo's rate (urgent: dequeue, unhold; interactive: hold; queueing: enqueue and overflows; bulk: transfer), unless API_KEY_CLASSES puts the key's intents in one class; within a class, clients take turns
             * @enum {string}
             */
            class: "urgent" | "interactive" | "queueing" | "bulk";
            /** @enum {string} */
            status: "queued" | "running" | "completed" | "failed" | "superseded";
            attempts: number;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            updated_at: string;
            finished_at: string | null;
            transfers: components["schemas"]["Transfer"][];
            error: {
                /** @enum {string} */
                code: "call_not_found" | "upstream_rejected" | "upstream_unavailable" | "transfer_limit" | "not_on_hold" | "bleg_unknown" | "invalid_intent" | "queue_full" | "queue_empty" | "not_queued" | "number_unknown" | "outcome_unknown" | "worker_failed";
                message: string;
            } | null;
        } | {
            /** @constant */
            type: "dequeue";
            queue: string;
            agent_call_uuid: string;
            /** @description the caller it took (or was told to take) */
            call_uuid?: string;
            callback_url?: unknown;
            /** Format: uuid */
            id: string;
            /** @description position in its call's line of intents */
            sequence: number;
            client: string;
            /**
             * @description the class it is served in while work waits for Plivo's rate (urgent: dequeue, unhold; interactive: hold; queueing: enqueue and overflows; bulk: transfer), unless API_KEY_CLASSES puts the key's intents in one class; within a class, clients take turns
             * @enum {string}
             */
            class: "urgent" | "interactive" | "queueing" | "bulk";
            /** @enum {string} */
            status: "queued" | "running" | "completed" | "failed" | "superseded";
            attempts: number;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            updated_at: string;
            finished_at: string | null;
            transfers: components["schemas"]["Transfer"][];
            error: {
                /** @enum {string} */
                code: "call_not_found" | "upstream_rejected" | "upstream_unavailable" | "transfer_limit" | "not_on_hold" | "bleg_unknown" | "invalid_intent" | "queue_full" | "queue_empty" | "not_queued" | "number_unknown" | "outcome_unknown" | "worker_failed";
                message: string;
            } | null;
        } | {
            /** @constant */
            type: "callback";
            call_uuid: string;
            queue: string;
            /** @description the number to call back, masked to its last 4 digits */
            number?: string;
            /** @description an absolute http(s) URL, in its normalised (WHATWG) form */
            callback_url?: string;
            /** Format: uuid */
            id: string;
            /** @description position in its call's line of intents */
            sequence: number;
            client: string;
            /**
             * @description the class it is served in while work waits for Plivo's rate (urgent: dequeue, unhold; interactive: hold; queueing: enqueue and overflows; bulk: transfer), unless API_KEY_CLASSES puts the key's intents in one class; within a class, clients take turns
             * @enum {string}
             */
            class: "urgent" | "interactive" | "queueing" | "bulk";
            /** @enum {string} */
            status: "queued" | "running" | "completed" | "failed" | "superseded";
            attempts: number;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            updated_at: string;
            finished_at: string | null;
            transfers: components["schemas"]["Transfer"][];
            error: {
                /** @enum {string} */
                code: "call_not_found" | "upstream_rejected" | "upstream_unavailable" | "transfer_limit" | "not_on_hold" | "bleg_unknown" | "invalid_intent" | "queue_full" | "queue_empty" | "not_queued" | "number_unknown" | "outcome_unknown" | "worker_failed";
                message: string;
            } | null;
        } | {
            /** @constant */
            type: "transfer";
            call_uuid: string;
            /** @enum {string} */
            legs: "aleg" | "bleg" | "both";
            /** @description an absolute http(s) URL, in its normalised (WHATWG) form */
            aleg_url?: string;
            /**
             * @default POST
             * @enum {string}
             */
            aleg_method: "GET" | "POST";
            /** @description an absolute http(s) URL, in its normalised (WHATWG) form */
            bleg_url?: string;
            /**
             * @default POST
             * @enum {string}
             */
            bleg_method: "GET" | "POST";
            /** @description an absolute http(s) URL, in its normalised (WHATWG) form */
            callback_url?: string;
            /** Format: uuid */
            id: string;
            /** @description position in its call's line of intents */
            sequence: number;
            client: string;
            /**
             * @description the class it is served in while work waits for Plivo's rate (urgent: dequeue, unhold; interactive: hold; queueing: enqueue and overflows; bulk: transfer), unless API_KEY_CLASSES puts the key's intents in one class; within a class, clients take turns
             * @enum {string}
             */
            class: "urgent" | "interactive" | "queueing" | "bulk";
            /** @enum {string} */
            status: "queued" | "running" | "completed" | "failed" | "superseded";
            attempts: number;
            /** Format: date-time */
            created_at: string;
            /** Format: date-time */
            updated_at: string;
            finished_at: string | null;
            transfers: components["schemas"]["Transfer"][];
            error: {
                /** @enum {string} */
                code: "call_not_found" | "upstream_rejected" | "upstream_unavailable" | "transfer_limit" | "not_on_hold" | "bleg_unknown" | "invalid_intent" | "queue_full" | "queue_empty" | "not_queued" | "number_unknown" | "outcome_unknown" | "worker_failed";
                message: string;
            } | null;
        };
        DeadLetterPage: {
            items: components["schemas"]["Intent"][];
            total: number;
            /** @description pass as cursor for the next page; null on the last */
            next_cursor: string | null;
        };
        Call: {
            call_uuid: string;
            state: ("on_hold" | "queued" | "callback" | "bridged" | "transferred" | "ended" | "unknown") | null;
            queue: string | null;
            /** @description 1 = served next; null unless queued */
            position: number | null;
            since: string | null;
            transfer_count: number;
            transfer_budget: number;
            last_intent_id: string | null;
            /** @description the legs the hold in force moved */
            held_legs: ("aleg" | "bleg" | "both") | null;
            /** @description the B leg's own UUID, once Plivo fetched its park document */
            bleg_uuid: string | null;
        };
        QueuePage: {
            items: {
                name: string;
                waiting: number;
                oldest_wait_seconds: number;
                /** @description estimated wait in seconds, for a caller joining now; null while the queue has too little history (README, "Estimated wait") */
                estimated_wait_seconds: number | null;
                configured: boolean;
            }[];
            /** @description pass as cursor for the next page; null on the last */
            next_cursor: string | null;
        };
        Queue: {
            name: string;
            waiting: number;
            oldest_wait_seconds: number;
            /** @description estimated wait in seconds, for a caller joining now; null while the queue has too little history (README, "Estimated wait") */
            estimated_wait_seconds: number | null;
            /** @description answered within the queue's service_level_seconds, of those answered, over STATS_WINDOW_SECONDS */
            service_level: {
                threshold_seconds: number;
                answered_within: number;
                answered: number;
                /** @description null before anyone was answered in the window */
                ratio: number | null;
                /** @description the ratio the queue should keep (its service_level_target, 0.8 unless configured) */
                target: number;
            };
            /** @description hung up while waiting, of those answered, hung up or overflowed, over STATS_WINDOW_SECONDS */
            abandoned_ratio: number | null;
            max_size: number;
            configured: boolean;
            members: {
                call_uuid: string;
                position: number;
                wait_seconds: number;
                priority: number;
                /** @description estimated wait in seconds, how much longer this caller is estimated to wait; null while the queue has too little history (README, "Estimated wait") */
                estimated_wait_seconds: number | null;
                /** @description the caller left the line and is called back when its turn comes, keeping this place (SPEC §10) */
                callback: boolean;
            }[];
        };
        /** @description Calls on hold, longest held first */
        HeldCallPage: {
            items: {
                call_uuid: string;
                /**
                 * Format: date-time
                 * @description when the hold began
                 */
                since: string;
                /** @description how long the call has been on hold, at the time of the answer */
                held_seconds: number;
                /** @description the legs the hold moved */
                held_legs: ("aleg" | "bleg" | "both") | null;
                last_intent_id: string | null;
            }[];
            /** @description pass as cursor for the next page; null on the last */
            next_cursor: string | null;
        };
        WallboardSession: {
            /** @description the name of the key the session was opened with */
            client: string;
            /**
             * @description the key's role; the session itself may only read
             * @enum {string}
             */
            role: "read" | "write" | "admin";
            /** @description the key's Plivo account: the session sees its queues and calls only */
            account: string;
            /**
             * Format: date-time
             * @description the session ends then (WALLBOARD_SESSION_SECONDS after sign-in), or at sign-out
             */
            expires_at: string;
        };
        /** @description RFC 9457 problem details; errors name each invalid field */
        Problem: {
            /** Format: uri */
            type: string;
            title: string;
            status: number;
            detail: string;
            instance?: string;
            errors?: {
                field: string;
                message: string;
            }[];
        };
        /** @description An event's data: the `data:` line of GET /v1/events, as JSON */
        Event: {
            /** @constant */
            type: "intent.accepted";
            /** Format: date-time */
            at: string;
            call_uuid: string;
            intent_id: string;
            intent_type: string;
            client: string;
            queue?: string;
        } | {
            /** @constant */
            type: "intent.completed";
            /** Format: date-time */
            at: string;
            call_uuid: string;
            intent_id: string;
            intent_type: string;
            queue?: string;
            error?: {
                /** @enum {string} */
                code: "call_not_found" | "upstream_rejected" | "upstream_unavailable" | "transfer_limit" | "not_on_hold" | "bleg_unknown" | "invalid_intent" | "queue_full" | "queue_empty" | "not_queued" | "number_unknown" | "outcome_unknown" | "worker_failed";
                message: string;
            };
        } | {
            /** @constant */
            type: "intent.failed";
            /** Format: date-time */
            at: string;
            call_uuid: string;
            intent_id: string;
            intent_type: string;
            queue?: string;
            error?: {
                /** @enum {string} */
                code: "call_not_found" | "upstream_rejected" | "upstream_unavailable" | "transfer_limit" | "not_on_hold" | "bleg_unknown" | "invalid_intent" | "queue_full" | "queue_empty" | "not_queued" | "number_unknown" | "outcome_unknown" | "worker_failed";
                message: string;
            };
        } | {
            /** @constant */
            type: "intent.superseded";
            /** Format: date-time */
            at: string;
            call_uuid: string;
            intent_id: string;
            intent_type: string;
            queue?: string;
            error?: {
                /** @enum {string} */
                code: "call_not_found" | "upstream_rejected" | "upstream_unavailable" | "transfer_limit" | "not_on_hold" | "bleg_unknown" | "invalid_intent" | "queue_full" | "queue_empty" | "not_queued" | "number_unknown" | "outcome_unknown" | "worker_failed";
                message: string;
            };
        } | {
            /** @constant */
            type: "call.held";
            /** Format: date-time */
            at: string;
            call_uuid: string;
            intent_id?: string;
            /** @enum {string} */
            legs?: "aleg" | "bleg" | "both";
        } | {
            /** @constant */
            type: "call.unheld";
            /** Format: date-time */
            at: string;
            call_uuid: string;
            intent_id?: string;
            /** @enum {string} */
            legs?: "aleg" | "bleg" | "both";
        } | {
            /** @constant */
            type: "call.bridged";
            /** Format: date-time */
            at: string;
            call_uuid: string;
            intent_id?: string;
            /** @enum {string} */
            legs?: "aleg" | "bleg" | "both";
        } | {
            /** @constant */
            type: "call.ended";
            /** Format: date-time */
            at: string;
            call_uuid: string;
            intent_id?: string;
            /** @enum {string} */
            legs?: "aleg" | "bleg" | "both";
        } | {
            /** @constant */
            type: "queue.joined";
            /** Format: date-time */
            at: string;
            call_uuid: string;
            queue: string;
            position: number;
            /** @description estimated wait in seconds, from this moment; null while the queue has too little history (README, "Estimated wait") */
            estimated_wait_seconds: number | null;
        } | {
            /** @constant */
            type: "queue.position";
            /** Format: date-time */
            at: string;
            call_uuid: string;
            queue: string;
            position: number;
            /** @description estimated wait in seconds, from this moment; null while the queue has too little history (README, "Estimated wait") */
            estimated_wait_seconds: number | null;
        } | {
            /** @constant */
            type: "queue.left";
            /** Format: date-time */
            at: string;
            call_uuid: string;
            queue: string;
            /** @enum {string} */
            reason: "bridged" | "abandoned" | "overflow" | "callback" | "moved";
            wait_seconds: number;
        } | {
            /** @constant */
            type: "callback.requested";
            /** Format: date-time */
            at: string;
            call_uuid: string;
            queue: string;
            /** @description the call-back attempt (0 when requested) */
            attempt: number;
            /** @description the number, masked to its last 4 digits */
            number: string;
            intent_id?: string;
            /** @description callback.failed: why the last attempt failed (busy, no-answer, …) */
            reason?: string;
        } | {
            /** @constant */
            type: "callback.dialing";
            /** Format: date-time */
            at: string;
            call_uuid: string;
            queue: string;
            /** @description the call-back attempt (0 when requested) */
            attempt: number;
            /** @description the number, masked to its last 4 digits */
            number: string;
            intent_id?: string;
            /** @description callback.failed: why the last attempt failed (busy, no-answer, …) */
            reason?: string;
        } | {
            /** @constant */
            type: "callback.connected";
            /** Format: date-time */
            at: string;
            call_uuid: string;
            queue: string;
            /** @description the call-back attempt (0 when requested) */
            attempt: number;
            /** @description the number, masked to its last 4 digits */
            number: string;
            intent_id?: string;
            /** @description callback.failed: why the last attempt failed (busy, no-answer, …) */
            reason?: string;
        } | {
            /** @constant */
            type: "callback.failed";
            /** Format: date-time */
            at: string;
            call_uuid: string;
            queue: string;
            /** @description the call-back attempt (0 when requested) */
            attempt: number;
            /** @description the number, masked to its last 4 digits */
            number: string;
            intent_id?: string;
            /** @description callback.failed: why the last attempt failed (busy, no-answer, …) */
            reason?: string;
        } | {
            /** @constant */
            type: "reset";
            /** Format: date-time */
            at: string;
            after: string;
        };
        /** @description Put a call on hold. legs=both holds a bridged call in one request: A leg to music, B leg parked. */
        HoldIntent: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "hold";
            call_uuid: string;
            /**
             * @default aleg
             * @enum {string}
             */
            legs?: "aleg" | "bleg" | "both";
            music?: string;
            callback_url?: string;
        };
        /** @description Bring the legs put on hold back together in the call bridge conference. */
        UnholdIntent: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "unhold";
            call_uuid: string;
            callback_url?: string;
        };
        /** @description Send the A leg to the queue waiting room; the call joins the queue. */
        EnqueueIntent: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "enqueue";
            call_uuid: string;
            queue: string;
            /** @default 0 */
            priority?: number;
            max_wait_seconds?: number;
            overflow?: string;
            callback_url?: string;
        };
        /** @description Connect the first waiting caller (or call_uuid) of the queue to the agent call, in one bridge conference. */
        DequeueIntent: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "dequeue";
            queue: string;
            agent_call_uuid: string;
            call_uuid?: string;
            callback_url?: string;
        };
        /** @description Let a waiting caller hang up and be called back when its turn comes, keeping its place (SPEC §10): it hears its number (masked) and is hung up; a dequeue that reaches it calls it back, agent first. number: E.164, by default the caller's From as Plivo reported it. Needs CALLBACK_CALLER_ID on a real Plivo account. */
        CallbackIntent: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "callback";
            call_uuid: string;
            queue: string;
            number?: string;
            callback_url?: string;
        };
        /** @description The raw Plivo transfer. aleg_url is required for legs aleg/both and bleg_url for bleg/both; URL hosts must be on TRANSFER_URL_ALLOWLIST. */
        TransferIntent: {
            /**
             * @description discriminator enum property added by openapi-typescript
             * @enum {string}
             */
            type: "transfer";
            call_uuid: string;
            /** @enum {string} */
            legs: "aleg" | "bleg" | "both";
            aleg_url?: string;
            /**
             * @default POST
             * @enum {string}
             */
            aleg_method?: "GET" | "POST";
            bleg_url?: string;
            /**
             * @default POST
             * @enum {string}
             */
            bleg_method?: "GET" | "POST";
            callback_url?: string;
        };
        IntentRequest: components["schemas"]["HoldIntent"] | components["schemas"]["UnholdIntent"] | components["schemas"]["EnqueueIntent"] | components["schemas"]["DequeueIntent"] | components["schemas"]["CallbackIntent"] | components["schemas"]["TransferIntent"];
    };
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    listFailedIntents: {
        parameters: {
            query: {
                status: "failed";
                limit?: number;
                cursor?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of failed intents */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DeadLetterPage"];
                };
            };
            /** @description No bearer key, or an unknown one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key's role may not do this (a READ_KEYS key posting, an API key retrying) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Bad query parameters */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Over the per-key request limit (API_RATE_LIMIT_RPS); retry after the Retry-After header */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Redis is unreachable; nothing was done. Retry after the Retry-After header. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    createIntent: {
        parameters: {
            query?: never;
            header?: {
                /** @description Same key and body: the same intent (200). Same key, other body: 409. Kept 24 h, per client. */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": components["schemas"]["IntentRequest"];
            };
        };
        responses: {
            /** @description A replay of an Idempotency-Key: the intent it created */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Intent"];
                };
            };
            /** @description Accepted and stored */
            202: {
                headers: {
                    Location?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Intent"];
                };
            };
            /** @description The body is not valid JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No bearer key, or an unknown one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key's role may not do this (a READ_KEYS key posting, an API key retrying) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Idempotency-Key reused with another body, transfer budget spent, or queue full */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Body over 16 KiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Not application/json */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The intent breaks a rule; errors[] names each field */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Over the per-key request limit (API_RATE_LIMIT_RPS); retry after the Retry-After header */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Redis is unreachable; nothing was done. Retry after the Retry-After header. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getIntent: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The intent */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Intent"];
                };
            };
            /** @description No bearer key, or an unknown one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key's role may not do this (a READ_KEYS key posting, an API key retrying) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such intent */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Over the per-key request limit (API_RATE_LIMIT_RPS); retry after the Retry-After header */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Redis is unreachable; nothing was done. Retry after the Retry-After header. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    retryIntent: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Back in its call’s line */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Intent"];
                };
            };
            /** @description No bearer key, or an unknown one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key's role may not do this (a READ_KEYS key posting, an API key retrying) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such intent */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The intent has not failed */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Over the per-key request limit (API_RATE_LIMIT_RPS); retry after the Retry-After header */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Redis is unreachable; nothing was done. Retry after the Retry-After header. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listHeldCalls: {
        parameters: {
            query: {
                state: "held";
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of calls on hold */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HeldCallPage"];
                };
            };
            /** @description No bearer key, or an unknown one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key's role may not do this (a READ_KEYS key posting, an API key retrying) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Bad query parameters */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Over the per-key request limit (API_RATE_LIMIT_RPS); retry after the Retry-After header */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Redis is unreachable; nothing was done. Retry after the Retry-After header. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getCall: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                call_uuid: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The call */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Call"];
                };
            };
            /** @description No bearer key, or an unknown one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key's role may not do this (a READ_KEYS key posting, an API key retrying) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description holdq never moved this call */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Over the per-key request limit (API_RATE_LIMIT_RPS); retry after the Retry-After header */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Redis is unreachable; nothing was done. Retry after the Retry-After header. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    listQueues: {
        parameters: {
            query?: {
                limit?: number;
                /** @description next_cursor of the previous page */
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of queues */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["QueuePage"];
                };
            };
            /** @description No bearer key, or an unknown one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key's role may not do this (a READ_KEYS key posting, an API key retrying) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Bad query parameters */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Over the per-key request limit (API_RATE_LIMIT_RPS); retry after the Retry-After header */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Redis is unreachable; nothing was done. Retry after the Retry-After header. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getQueue: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The queue */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Queue"];
                };
            };
            /** @description No bearer key, or an unknown one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key's role may not do this (a READ_KEYS key posting, an API key retrying) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No such queue */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Over the per-key request limit (API_RATE_LIMIT_RPS); retry after the Retry-After header */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Redis is unreachable; nothing was done. Retry after the Retry-After header. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    streamEvents: {
        parameters: {
            query?: {
                /** @description only events of this queue */
                queue?: string;
                /** @description only events of this call */
                call_uuid?: string;
                /**
                 * @description only these types, comma-separated
                 * @example queue.joined,queue.left
                 */
                types?: string;
                /** @description resume after this id (for clients that cannot set Last-Event-ID; the header wins) */
                last_event_id?: string;
            };
            header?: {
                /** @description resume after this id */
                "Last-Event-ID"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The stream */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example id: 1764644400123-0
                     *     event: queue.joined
                     *     data: {"type":"queue.joined","at":"2026-12-02T03:00:00.123Z","call_uuid":"c1","queue":"support","position":3,"estimated_wait_seconds":95}
                     */
                    "text/event-stream": string;
                };
            };
            /** @description No bearer key, or an unknown one */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key's role may not do this (a READ_KEYS key posting, an API key retrying) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Bad query parameters or Last-Event-ID */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Over the per-key request limit (API_RATE_LIMIT_RPS); retry after the Retry-After header */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description This API serves EVENTS_MAX_STREAMS streams already (Retry-After) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    getWallboardSession: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The session */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WallboardSession"];
                };
            };
            /** @description No session cookie, or the session has ended */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Redis is unreachable; nothing was done. Retry after the Retry-After header. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    openWallboardSession: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    key: string;
                };
                "application/x-www-form-urlencoded": {
                    key: string;
                };
            };
        };
        responses: {
            /** @description Signed in; Set-Cookie carries the session */
            200: {
                headers: {
                    "Set-Cookie"?: string;
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WallboardSession"];
                };
            };
            /** @description Signed in from a form: back to /wallboard (Set-Cookie carries the session) */
            303: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The body is not valid JSON */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description The key is not valid */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Sent by a page of another origin */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Body over 16 KiB */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Neither application/json nor a form */
            415: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description No key, or an unknown field; errors[] names it */
            422: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Too many failed sign-ins from this address this minute */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Redis is unreachable; nothing was done. Retry after the Retry-After header. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    closeWallboardSession: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Signed out (also when the session had ended already) */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No session cookie */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Sent by a page of another origin */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            /** @description Redis is unreachable; nothing was done. Retry after the Retry-After header. */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
        };
    };
    livez: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Alive */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Live"];
                };
            };
        };
    };
    readyz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Ready */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Ready"];
                };
            };
            /** @description Redis unreachable, or shutting down */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Ready"];
                };
            };
        };
    };
    metrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Metrics */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
}
