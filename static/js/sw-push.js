/* Push alerts (issue 16, item 4): written by the push work. */
"use strict";
