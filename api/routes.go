package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/web"
)

// routes is the whole HTTP surface.
func (s *Server) routes() {
	r := s.router
	r.Use(s.recoverer, requestIDMiddleware, s.logRequests, s.errorMiddleware, securityHeaders)

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.StaticFS("/static", http.FS(web.Static()))
	r.GET("/photos/:org/:id", s.photo) // public: shown to website visitors

	// Pages.
	r.GET("/", s.session(false), s.home)
	r.GET("/login", s.loginPage)
	r.POST("/login", limitBody(jsonLimit), s.loginForm)
	r.POST("/logout", s.session(false), s.csrf, s.logout)
	r.GET("/wizard", s.session(false), s.role(onramp.RoleRep), s.wizardPage)
	r.GET("/wizard/:step", s.session(false), s.role(onramp.RoleRep), s.wizardPage)
	r.GET("/admin", s.session(false), s.role(onramp.RoleAdmin), s.adminPage)
	r.GET("/admin/reps/:rep", s.session(false), s.role(onramp.RoleAdmin), s.adminRepPage)
	r.GET("/support", s.session(false), s.role(onramp.RoleSupport, onramp.RoleAdmin), s.supportPage)

	// JSON API.
	v1 := r.Group("/api/v1", bodyLimit)
	v1.POST("/session", s.login)
	authed := v1.Group("", s.session(true), s.csrf)
	authed.DELETE("/session", s.logout)
	authed.GET("/me", s.me)
	authed.GET("/events", s.events)

	reps := authed.Group("/reps/:rep", s.rep)
	reps.GET("/onboarding", s.progress)
	reps.GET("/onboarding/events", s.stepEvents)
	reps.GET("/settings", s.settings)
	reps.PUT("/onboarding/steps/:step", s.self, s.submitStep)
	reps.POST("/onboarding/steps/:step/skip", s.self, s.skipStep)
	reps.POST("/onboarding/steps/finish", s.self, s.finish)

	admin := authed.Group("/admin", s.role(onramp.RoleAdmin))
	admin.GET("/reps", s.listReps)
	admin.POST("/reps", s.createRep)
	admin.GET("/reps/:rep", s.rep, s.adminProgress)
	admin.POST("/reps/:rep/steps/:step/reset", s.rep, s.resetStep)
	admin.GET("/streams", s.listStreams)
	admin.POST("/streams", s.createStream)

	support := authed.Group("/support", s.role(onramp.RoleSupport, onramp.RoleAdmin))
	support.GET("/stuck", s.stuck)
	support.POST("/reps/:rep/steps/:step/retry", s.rep, s.retryStep)

	r.NoRoute(func(c *gin.Context) { fail(c, onramp.Errorf(onramp.ENOTFOUND, "No such page.")) })
	r.NoMethod(func(c *gin.Context) { fail(c, onramp.Errorf(onramp.EBADREQUEST, "Method not allowed.")) })
}
