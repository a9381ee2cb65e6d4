from django.apps import AppConfig


class PlaybooksConfig(AppConfig):
    name = "playbooks"
    verbose_name = "Playbooks"

    def ready(self) -> None:
        from accounts.hooks import segments_changed, stages_moved
        from scoring.hooks import scores_changed
        from signals_app.hooks import person_exporting, person_forgetting

        from . import privacy, receivers

        scores_changed.connect(receivers.on_scores_changed, dispatch_uid="playbooks.scores_changed")
        stages_moved.connect(receivers.on_stages_moved, dispatch_uid="playbooks.stages_moved")
        segments_changed.connect(receivers.on_segments_changed, dispatch_uid="playbooks.segments_changed")
        person_forgetting.connect(privacy.on_person_forgetting, dispatch_uid="playbooks.person_forgetting")
        person_exporting.connect(privacy.on_person_exporting, dispatch_uid="playbooks.person_exporting")
