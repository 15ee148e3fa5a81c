"""German as callers speak it: dates and times as said, their spoken rendering, and the one text folding
(umlauts, case, accents) used wherever words are compared."""
