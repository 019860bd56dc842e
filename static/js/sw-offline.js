/* Offline reading for the outreach worker (issue 16, item 2): written by the offline work. */
"use strict";
