// /logs/trace/{id}: the waterfall is server-rendered; rows open the record's detail.
import { localiseTimes } from "./common.js";
import { wireRows } from "./detail.js";

wireRows(document.querySelector("#waterfall tbody"));
localiseTimes();
