-- Top clickers: every snapshot kept (each is a rolling window ending when it was taken), one
-- row per snapshot and lower-cased e-mail address.
{{ stage_people('top_clickers', 'clickCount', {
    '"clickCount"': 'click_count',
    '"totalTopClickers"': 'total_top_clickers'}) }}
