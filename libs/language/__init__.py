"""German as callers speak it: dates as said (`dates`), their spoken rendering (`spoken`), the agent's words
for a closed choice (`answers`), and the one text folding used wherever words are compared (`text`)."""
