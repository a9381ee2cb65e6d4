from django.apps import AppConfig


class PlaybooksConfig(AppConfig):
    name = "playbooks"
    verbose_name = "Playbooks"

    def ready(self) -> None:
        from accounts.hooks import segments_changed, stages_moved
        from scoring.hooks import scores_changed

        from . import receivers

        scores_changed.connect(receivers.on_scores_changed, dispatch_uid="playbooks.scores_changed")
        stages_moved.connect(receivers.on_stages_moved, dispatch_uid="playbooks.stages_moved")
        segments_changed.connect(receivers.on_segments_changed, dispatch_uid="playbooks.segments_changed")
