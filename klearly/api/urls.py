"""The REST API under /api/v1/: one router for every app's viewsets (namespace ``api``)."""

from rest_framework.routers import APIRootView, DefaultRouter

from accounts.api import views as accounts_views
from playbooks.api import views as playbooks_views
from scoring.api import views as scoring_views
from signals_app.api import privacy as privacy_views
from signals_app.api import views as signals_views

from . import schema  # noqa: F401  (registers the OpenAPI description of the key authentication)
from .viewsets import ApiViewSetMixin

app_name = "api"


class ApiRootView(ApiViewSetMixin, APIRootView):
    """The index of /api/v1/: the same callers may read it as any other endpoint."""


router = DefaultRouter()
router.APIRootView = ApiRootView
router.register("accounts", accounts_views.AccountViewSet, basename="account")
router.register("contacts", accounts_views.ContactViewSet, basename="contact")
# /contacts/{external_id}/forget/ and /export/ (GDPR): signals_app's, since erasing signals is its job
router.register("contacts", privacy_views.ContactPrivacyViewSet, basename="contact-privacy")
router.register("journey-stages", accounts_views.JourneyStageViewSet, basename="journey-stage")
router.register("stage-transitions", accounts_views.StageTransitionViewSet, basename="stage-transition")
router.register("segments", accounts_views.SegmentViewSet, basename="segment")
router.register("signals", signals_views.SignalViewSet, basename="signal")
router.register("signal-types", signals_views.SignalTypeViewSet, basename="signal-type")
router.register("signal-topics", signals_views.SignalTopicViewSet, basename="signal-topic")
router.register("scores", scoring_views.AccountScoreViewSet, basename="score")
router.register("predictive-models", scoring_views.PredictiveModelViewSet, basename="predictive-model")
router.register("tasks", playbooks_views.TaskViewSet, basename="task")
router.register("playbooks", playbooks_views.PlaybookViewSet, basename="playbook")
router.register("privacy", privacy_views.PrivacyViewSet, basename="privacy")

urlpatterns = router.urls
